import { randomBytes } from "node:crypto";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { isLatheError } from "../diagnostics.js";
import type { ConstraintCheck, MetricValues } from "../evaluate/constraints.js";
import type { MetricOutcome } from "../evaluate/evaluation.js";
import { jsonNumbers } from "../evaluate/evaluation.js";
import type { Selection } from "../evaluate/select.js";
import type { PassStatistics } from "../plugin/types.js";
import { LATHE_VERSION } from "../version.js";
import type { SkipReason, StepStatus } from "./events.js";
import type { InputArtifact } from "./input.js";
import type { PublishedCandidate } from "./publish.js";
import type { RunPlan } from "./run-plan.js";

/** `report.json`: what a run did. docs/pipeline.md documents every field; keep it stable. */
export interface RunReport {
  readonly schemaVersion: 1;
  readonly status: "ok" | "failed" | "interrupted";
  readonly recipe: {
    readonly file: string;
    readonly sha256: string;
    /** The recipe's `name:` and `description:`, when it has them. */
    readonly name?: string;
    readonly description?: string;
  };
  readonly lathe: { readonly version: string };
  readonly plugins: readonly { readonly name: string; readonly version: string }[];
  /** The recipe's input, which is also the reference the candidates are compared against. */
  readonly input: { readonly reference: string; readonly digest: string } | null;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly cache: { readonly dir: string; readonly hits: number; readonly misses: number };
  /** Every step of the recipe, in plan order, then the disabled ones. */
  readonly steps: readonly StepReport[];
  /** The steps whose outputs were written, with their folders relative to the report. */
  readonly candidates: readonly { readonly step: string; readonly output: string }[];
  /** Present when the recipe lists metrics and the candidates were written (docs/evaluate.md). */
  readonly evaluation?: EvaluationReport;
  readonly error?: {
    readonly code: string;
    readonly message: string;
    readonly step?: string;
    readonly reproducer?: string;
  };
}

export interface StepReport {
  readonly id: string;
  readonly pass: string;
  /** `name@version` of the plugin that defines the pass. */
  readonly plugin: string;
  /** The step it read, or "model" for the recipe's input. */
  readonly input: string;
  readonly status: StepStatus;
  readonly reason?: SkipReason;
  readonly cacheKey?: string;
  /**
   * The plugins (or `@lathe/core`) whose code changed since the cached result for the same
   * recipe, data and input: why the step ran again (only for plugins keyed by their code).
   */
  readonly codeChanged?: readonly string[];
  /** Time spent on the step in this run (for a cache hit: finding it). */
  readonly durationMs?: number;
  /** For a cache hit: how long the pass took when it ran. */
  readonly originalDurationMs?: number;
  readonly modified?: boolean;
  readonly statistics?: PassStatistics;
  /** Folder of the written output, relative to the report (candidates only). */
  readonly output?: string;
}

export interface EvaluationReport {
  readonly metrics: readonly {
    /** The name constraints use (`latency`). */
    readonly name: string;
    readonly id: string;
    /** `name@version` of the plugin that defines it. */
    readonly plugin: string;
    readonly options: Readonly<Record<string, unknown>>;
    /** Whether its values may come from the evaluation cache (size, fidelity) or are measured each run. */
    readonly deterministic: boolean;
  }[];
  readonly constraints: readonly string[];
  readonly target: {
    readonly providers: readonly string[];
    readonly threads: number;
    readonly shapes: Readonly<Record<string, readonly number[]>>;
  };
  /** The recipe's input, measured with the same metrics (relative constraints use its values). */
  readonly reference: EvaluatedModelReport;
  readonly candidates: readonly (EvaluatedModelReport & {
    readonly accepted: boolean;
    /** One entry per constraint (and per failed metric), with why it passed or failed. */
    readonly checks: readonly ConstraintCheck[];
  })[];
  readonly selection: Selection & {
    /** The selected model's folder relative to the report (objective selection only). */
    readonly output?: string;
  };
}

export interface EvaluatedModelReport {
  readonly step: string;
  /** The folder or file that was measured. */
  readonly path: string;
  readonly values: MetricValues;
  readonly metrics: Readonly<Record<string, MetricOutcome>>;
  /** What metrics logged (e.g. a provider fallback). */
  readonly notes: readonly string[];
}

/**
 * The `warning` statistics of a step and of every step it read from, in pipeline order, each as
 * `warning (step <id>): …`: a candidate carries what its upstream passes warned about (a
 * quantization calibrated on generated inputs) into the report's notes and `lathe run`'s table.
 */
export function stepWarnings(steps: ReadonlyMap<string, StepReport>, step: string): string[] {
  const chain: StepReport[] = [];
  const seen = new Set<string>();
  for (let at = steps.get(step); at && !seen.has(at.id); at = steps.get(at.input)) {
    seen.add(at.id);
    chain.unshift(at);
  }
  return chain.flatMap((s) =>
    Object.entries(s.statistics ?? {})
      .filter(([key]) => key === "warning" || key.startsWith("warning "))
      .map(([, value]) => `${WARNING_NOTE} (step ${s.id}): ${value}`),
  );
}

/** How a note that repeats a pass's warning begins. */
export const WARNING_NOTE = "warning";

/** Writes the report under a temp name and renames it, so a reader never sees half of it. */
export async function writeReport(path: string, report: RunReport): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  // JSON has no Infinity or NaN (an exact PSNR, a failed KL): they are written as strings.
  await writeFile(temp, `${JSON.stringify(report, jsonNumbers, 2)}\n`);
  await rename(temp, path);
}

/** What the stages produced, as far as the run got. */
export interface RunOutcome {
  readonly plan: RunPlan;
  readonly recipeSha: string;
  readonly startedAt: Date;
  readonly durationMs: number;
  readonly input: InputArtifact | undefined;
  readonly steps: readonly StepReport[];
  readonly candidates: readonly PublishedCandidate[];
  readonly evaluation: EvaluationReport | undefined;
  /** What stopped the run, if something did; with the failed step and its reproducer. */
  readonly thrown: unknown;
  readonly failed: { readonly step: string; readonly reproducer: string } | undefined;
}

/** Stage six of a run: report.json's content. */
export function buildRunReport(outcome: RunOutcome): RunReport {
  const { plan, steps, thrown } = outcome;
  const { graph } = plan;
  const failure =
    thrown === undefined
      ? undefined
      : {
          ...errorSummary(thrown),
          ...(outcome.failed && !isInterrupt(thrown) ? outcome.failed : {}),
        };
  return {
    schemaVersion: 1,
    status: thrown === undefined ? "ok" : isInterrupt(thrown) ? "interrupted" : "failed",
    recipe: {
      file: graph.recipe.file,
      sha256: outcome.recipeSha,
      ...(graph.recipe.name === undefined ? {} : { name: graph.recipe.name }),
      ...(graph.recipe.description === undefined ? {} : { description: graph.recipe.description }),
    },
    lathe: { version: LATHE_VERSION },
    plugins: graph.registry.plugins.map((p) => ({ name: p.meta.name, version: p.meta.version })),
    input: outcome.input
      ? { reference: outcome.input.reference, digest: outcome.input.digest }
      : null,
    startedAt: outcome.startedAt.toISOString(),
    durationMs: Math.round(outcome.durationMs),
    cache: {
      dir: plan.cache.dir,
      hits: steps.filter((s) => s.status === "cached").length,
      misses: steps.filter((s) => s.status === "ran" || s.status === "failed").length,
    },
    steps,
    candidates: outcome.candidates.map((c) => ({ step: c.step, output: c.output })),
    ...(outcome.evaluation ? { evaluation: outcome.evaluation } : {}),
    ...(failure ? { error: failure } : {}),
  };
}

function isInterrupt(error: unknown): boolean {
  return isLatheError(error) && error.code === "INTERRUPTED";
}

function errorSummary(error: unknown): { code: string; message: string } {
  if (isLatheError(error)) return { code: error.code, message: error.message };
  return { code: "INTERNAL", message: error instanceof Error ? error.message : String(error) };
}
