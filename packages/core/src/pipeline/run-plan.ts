/**
 * Stage one of a run: everything decided before any model is touched — where outputs, the
 * report and the cache go, how models are saved, which steps run and which are written out.
 */
import { dirname, join, resolve } from "node:path";
import { errors } from "../diagnostics.js";
import type { SaveOptions } from "../onnx/model-file.js";
import type { SessionFactory } from "../plugin/types.js";
import { createSessionFactory } from "../runtime/session-factory.js";
import { ArtifactCache } from "./artifact-cache.js";
import type { PipelineEvent } from "./events.js";
import { KeySources } from "./key-sources.js";
import type { PassGraph } from "./plan.js";

export interface RunOptions {
  /** Aborting stops the run between steps or inside one (the pass sees it); the cache stays valid. */
  readonly signal?: AbortSignal;
  /** Recompute every step, replacing its cache entry. */
  readonly noCache?: boolean;
  /** Run only this step and the steps it reads from; write only its output. */
  readonly only?: string;
  /**
   * Passes log why they decided what they did (`ctx.explain`). Cached steps run again, since an
   * explanation comes from running; their cache entries are refreshed.
   */
  readonly explain?: boolean;
  readonly onEvent?: (event: PipelineEvent) => void;
  /** Sessions for passes and metrics; default: on the recipe's `target:` (providers, threads). */
  readonly sessions?: SessionFactory;
}

/** What the later stages share; built once, read-only. */
export interface RunPlan {
  readonly graph: PassGraph;
  readonly outputDir: string;
  readonly reportPath: string;
  readonly cache: ArtifactCache;
  readonly saveOptions: SaveOptions;
  /** The steps this run executes (all enabled ones, or `--only`'s chain). */
  readonly needed: ReadonlySet<string>;
  /** The steps whose outputs are written to `outputDir`; empty when no step is enabled. */
  readonly targets: readonly string[];
  readonly sessions: SessionFactory;
  readonly signal: AbortSignal;
  readonly emit: (event: PipelineEvent) => void;
  readonly noCache: boolean;
  readonly explain: boolean;
  /** The code and data digests every cache key of the run holds, each computed once. */
  readonly keys: KeySources;
}

export function planRun(graph: PassGraph, options: RunOptions = {}): RunPlan {
  const { recipe } = graph;
  const baseDir = dirname(recipe.file);
  const outputDir = resolve(baseDir, recipe.output.dir);
  return {
    graph,
    outputDir,
    reportPath: join(outputDir, "report.json"),
    cache: new ArtifactCache(resolve(baseDir, recipe.output.cache)),
    saveOptions:
      recipe.output.externalDataThreshold > 0
        ? { externalData: { threshold: recipe.output.externalDataThreshold } }
        : {},
    needed: neededSteps(graph, options.only),
    targets: options.only === undefined ? graph.candidates : [options.only],
    sessions: options.sessions ?? createSessionFactory(recipe.target),
    signal: options.signal ?? new AbortController().signal,
    emit: options.onEvent ?? (() => {}),
    noCache: options.noCache === true,
    explain: options.explain === true,
    keys: new KeySources(recipe, graph.registry),
  };
}

/** With `--only`, the step and every step it reads from; otherwise all of them. */
function neededSteps(graph: PassGraph, only: string | undefined): Set<string> {
  if (only === undefined) return new Set(graph.steps.map((s) => s.id));
  const byId = new Map(graph.steps.map((s) => [s.id, s]));
  let step = byId.get(only);
  if (!step) {
    const disabled = graph.disabled.some((d) => d.id === only);
    throw errors.onlyStepInvalid(
      graph.recipe.file,
      only,
      disabled ? "the step is disabled" : "the recipe has no such step",
      disabled
        ? "enable it (enabled: true) to run it"
        : `steps: ${graph.steps.map((s) => s.id).join(", ")}`,
    );
  }
  const needed = new Set<string>();
  while (step) {
    needed.add(step.id);
    step = step.input === undefined ? undefined : byId.get(step.input);
  }
  return needed;
}
