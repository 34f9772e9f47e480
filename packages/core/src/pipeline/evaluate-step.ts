/**
 * Stage four of a run: the recipe's metrics on the reference (the recipe's input) and every
 * published candidate, read from their files, then constraints, the selection, and the report
 * section. The measuring itself is in ../evaluate.
 */
import { dirname, join, relative, resolve } from "node:path";
import { loadBundle } from "../bundle-file.js";
import { errors } from "../diagnostics.js";
import { type Constraint, parseConstraint } from "../evaluate/constraints.js";
import {
  type EvaluatedModel,
  type EvaluationResult,
  evaluateModels,
  type Measurable,
  type MetricUse,
} from "../evaluate/evaluation.js";
import type { PluginRegistry } from "../plugin/registry.js";
import type { SessionFactory } from "../plugin/types.js";
import { recipeLocation } from "../recipe/location.js";
import type { Recipe } from "../recipe/types.js";
import type { PipelineEvent } from "./events.js";
import type { InputArtifact } from "./input.js";
import { KeySources } from "./key-sources.js";
import type { PublishedCandidate } from "./publish.js";
import { openRecipeData } from "./recipe-data.js";
import type { EvaluatedModelReport, EvaluationReport } from "./report.js";

export interface EvaluateStepParts {
  readonly recipe: Recipe;
  readonly registry: PluginRegistry;
  readonly input: InputArtifact;
  /** Where the input is stored (see stored-input.ts): the reference's path for the metrics. */
  readonly referencePath: string;
  readonly candidates: readonly PublishedCandidate[];
  /** What the passes that made a candidate warned about (`stepWarnings`), first in its notes. */
  readonly warningsOf?: (step: string) => readonly string[];
  readonly cacheDir: string;
  readonly outputDir: string;
  readonly sessions: SessionFactory;
  readonly signal: AbortSignal;
  readonly noCache: boolean;
  readonly emit: (event: PipelineEvent) => void;
  /** The run's code and data digests (one per run); made here when not given. */
  readonly keys?: KeySources;
}

export function evaluationWanted(recipe: Recipe): boolean {
  return Object.keys(recipe.evaluate.metrics).length > 0;
}

export async function evaluateStep(
  parts: EvaluateStepParts,
): Promise<{ report: EvaluationReport; result: EvaluationResult }> {
  const { recipe, registry } = parts;
  const keys = parts.keys ?? new KeySources(recipe, registry);
  const named = Object.entries(recipe.evaluate.metrics).map(([id, options]) => {
    const registered = registry.metrics.get(id);
    // Validation already rejects unknown metrics; a recipe built in code may still name one.
    if (!registered) {
      throw errors.metricUnknown(recipeLocation(recipe, ["evaluate", "metrics", id]), id, [
        ...registry.metrics.keys(),
      ]);
    }
    return { id, options, registered };
  });
  const metrics: MetricUse[] = [];
  for (const { id, options, registered } of named) {
    metrics.push({
      name: id.slice(id.lastIndexOf("/") + 1),
      definition: registered.definition,
      plugin: await keys.plugin(registered.plugin),
      options,
      data: await keys.data.of(options),
    });
  }
  const engine = await keys.engine();
  const reference: Measurable = {
    id: "model",
    path: parts.referencePath,
    digest: parts.input.digest,
    load: () => parts.input.load(),
  };
  const candidates: Measurable[] = parts.candidates.map((c) => ({
    id: c.step,
    path: c.path,
    digest: c.digest,
    load: () => loadBundle(c.path),
  }));
  const result = await evaluateModels({
    metrics,
    constraints: recipe.evaluate.constraints.map((text, i) => recipeConstraint(recipe, text, i)),
    select: recipe.select,
    reference,
    candidates,
    target: recipe.target,
    seed: recipe.seed,
    ...(engine === undefined ? {} : { engine }),
    sessions: parts.sessions,
    data: (name, metric) =>
      openRecipeData(recipe, registry, name, {
        by: `metric ${metric.definition.id}`,
        at: ["evaluate", "metrics", metric.definition.id],
      }),
    resolve: (path) => resolve(dirname(recipe.file), path),
    locateMetric: (metric) => recipeLocation(recipe, ["evaluate", "metrics", metric.definition.id]),
    signal: parts.signal,
    cacheDir: join(parts.cacheDir, "evaluations"),
    noCache: parts.noCache,
    emit: parts.emit,
  });
  const modelReport = (model: EvaluatedModel, path: string): EvaluatedModelReport => ({
    step: model.id,
    path,
    values: model.values,
    metrics: model.metrics,
    notes: model.notes,
  });
  const outputOf = new Map(parts.candidates.map((c) => [c.step, c.path]));
  const report: EvaluationReport = {
    metrics: metrics.map((m) => ({
      name: m.name,
      id: m.definition.id,
      plugin: `${m.plugin.name}@${m.plugin.version}`,
      options: m.options,
      deterministic: m.definition.deterministic === true,
    })),
    constraints: recipe.evaluate.constraints,
    target: {
      providers: recipe.target.providers,
      threads: recipe.target.threads,
      shapes: recipe.target.shapes,
    },
    reference: modelReport(result.reference, parts.input.reference),
    candidates: result.candidates.map((c) => ({
      ...modelReport(
        { ...c, notes: [...(parts.warningsOf?.(c.id) ?? []), ...c.notes] },
        relative(parts.outputDir, outputOf.get(c.id) ?? c.id) || c.id,
      ),
      accepted: c.verdict.accepted,
      checks: c.verdict.checks,
    })),
    selection: result.selection,
  };
  return { report, result };
}

/**
 * A constraint with its place in the recipe, so a check that cannot be judged names it. Loaded
 * recipes were parsed by validation already; a recipe built in code may hold a broken one.
 */
function recipeConstraint(recipe: Recipe, text: string, index: number): Constraint {
  const where = recipeLocation(recipe, ["evaluate", "constraints", index]);
  try {
    return { ...parseConstraint(text), where };
  } catch (error) {
    throw errors.constraintInvalid(where, text, (error as Error).message);
  }
}
