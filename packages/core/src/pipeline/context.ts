import { dirname, resolve } from "node:path";
import { errors } from "../diagnostics.js";
import type { PluginRegistry } from "../plugin/registry.js";
import type {
  DataSet,
  Logger,
  PassContext,
  ProgressReporter,
  SessionFactory,
} from "../plugin/types.js";
import type { Recipe } from "../recipe/types.js";
import { dataNamesIn } from "./data-digest.js";
import { dataNames } from "./data-split.js";
import type { PipelineEvent } from "./events.js";
import type { PlannedStep } from "./plan.js";
import { createPassRandom } from "./random.js";
import { openRecipeData } from "./recipe-data.js";

export interface ContextParts {
  readonly recipe: Recipe;
  readonly registry: PluginRegistry;
  readonly step: PlannedStep;
  /** The digest of the step's input, which seeds the random source with the recipe seed. */
  readonly inputDigest: string;
  readonly signal: AbortSignal;
  readonly scratchDir: string;
  readonly sessions: SessionFactory;
  readonly emit: (event: PipelineEvent) => void;
  readonly explain: boolean;
}

/** What a pass sees while it runs; options are a frozen copy, so a pass cannot change the recipe. */
export function createPassContext(parts: ContextParts): PassContext<Record<string, unknown>> {
  const { recipe, registry, step, emit } = parts;
  const baseDir = dirname(recipe.file);
  const resolvePath = (path: string) => resolve(baseDir, path);
  const log =
    (level: "debug" | "info" | "warn") =>
    (message: string): void =>
      emit({ type: "step-log", step: step.id, level, message });
  const logger: Logger = { debug: log("debug"), info: log("info"), warn: log("warn") };
  let done = 0;
  let total = 0;
  const progress: ProgressReporter = {
    start(units, label) {
      total = units;
      done = 0;
      emit({ type: "step-progress", step: step.id, done, total, ...(label ? { label } : {}) });
    },
    advance(units = 1, label) {
      done = Math.min(total, done + units);
      emit({ type: "step-progress", step: step.id, done, total, ...(label ? { label } : {}) });
    },
  };
  const readable = dataNamesIn(step.options, recipe.data);
  const data = (name: string): DataSet => {
    // A name the recipe lacks is reported as such by openRecipeData.
    if (dataNames(recipe.data).has(name) && !readable.includes(name)) {
      throw errors.pluginContract(
        step.plugin.meta.name,
        `pass ${step.passId}`,
        `read data "${name}", which its options do not name`,
        "take the data set's name from an option (as calibration: does): a step's cache key covers the data its options name, so data read otherwise could be stale",
      );
    }
    return openRecipeData(recipe, registry, name, {
      by: `step "${step.id}" (pass ${step.passId})`,
      at: ["passes", step.id],
    });
  };
  return {
    options: deepFreeze(structuredClone(step.options)) as Readonly<Record<string, unknown>>,
    stepId: step.id,
    passId: step.passId,
    logger,
    progress,
    sessions: parts.sessions,
    target: { providers: [...recipe.target.providers], shapes: recipe.target.shapes },
    explain: parts.explain,
    data,
    random: createPassRandom(recipe.seed, step.passId, parts.inputDigest),
    signal: parts.signal,
    scratchDir: parts.scratchDir,
    resolve: resolvePath,
  };
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
