/**
 * The engine's evaluation step: every listed metric on the reference and on each candidate,
 * the constraints judged, and the selection. Deterministic metrics (size, fidelity) are cached
 * by what they measured; measurements (latency, memory) are taken again every run.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join, resolve as resolvePath } from "node:path";
import type { ModelBundle } from "../bundle.js";
import { atRecipeKey, errors, isLatheError } from "../diagnostics.js";
import { canonicalHash } from "../pipeline/canonical-json.js";
import type {
  DataSet,
  Logger,
  MetricDefinition,
  PluginMeta,
  SessionFactory,
} from "../plugin/types.js";
import type { SelectSpec, TargetSpec } from "../recipe/types.js";
import { type Constraint, judge, type MetricValues, type Verdict } from "./constraints.js";
import { paretoFront, type Selection, selectByObjective } from "./select.js";

/** One metric as the recipe lists it. */
export interface MetricUse {
  /** The name constraints use: the last part of the id (`latency` for `core/latency`). */
  readonly name: string;
  readonly definition: MetricDefinition;
  /** `code`: a digest of the plugin's code when it is not an installed release (code-digest.ts). */
  readonly plugin: Pick<PluginMeta, "name" | "version"> & { readonly code?: string };
  readonly options: Readonly<Record<string, unknown>>;
  /**
   * Digests of the data sets its options name, which are all it may read: they key its cached
   * values. Without it (a command measuring files), any data set may be read.
   */
  readonly data?: Readonly<Record<string, string>>;
}

/** A stored model to measure. */
export interface Measurable {
  /** `model` for the reference, the step id for a candidate. */
  readonly id: string;
  /** A bundle folder or an `.onnx` file. */
  readonly path: string;
  /** What identifies its content (the step's cache key, the input's digest). */
  readonly digest: string;
  load(): Promise<ModelBundle>;
}

export interface MetricOutcome {
  readonly id: string;
  /** True when the values came from the evaluation cache. */
  readonly cached: boolean;
  readonly durationMs: number;
  readonly error?: string;
}

export interface EvaluatedModel {
  readonly id: string;
  /** Metric name → value key → number. */
  readonly values: MetricValues;
  readonly metrics: Readonly<Record<string, MetricOutcome>>;
  /** What the metrics logged: provider fallbacks, which provider ran. */
  readonly notes: readonly string[];
}

export interface EvaluatedCandidate extends EvaluatedModel {
  readonly verdict: Verdict;
}

export interface EvaluationResult {
  readonly reference: EvaluatedModel;
  readonly candidates: readonly EvaluatedCandidate[];
  readonly selection: Selection;
}

export type EvaluationEvent =
  /** `step` is the candidate's step id, or `model` for the reference. */
  | { readonly type: "metric-start"; readonly step: string; readonly metric: string }
  | {
      readonly type: "metric-end";
      readonly step: string;
      readonly metric: string;
      readonly cached: boolean;
      readonly durationMs: number;
      readonly error?: string;
    };

export interface EvaluationParts {
  readonly metrics: readonly MetricUse[];
  readonly constraints: readonly Constraint[];
  readonly select: SelectSpec;
  readonly reference: Measurable;
  readonly candidates: readonly Measurable[];
  readonly target: TargetSpec;
  readonly seed: number;
  /** A digest of the engine's code when it is not an installed release: part of every key. */
  readonly engine?: string;
  /** Sessions for metrics that run an in-memory model (`MetricContext.sessions`). */
  readonly sessions: SessionFactory;
  /** The data set `name`, asked for by `metric`. */
  data(name: string, metric: MetricUse): DataSet;
  /** Resolves a metric's own file paths (relative to the recipe); default: the working folder. */
  resolve?(path: string): string;
  /**
   * Where a metric is listed in the recipe (`file:line:col evaluate.metrics.core/latency`): a
   * metric that cannot measure the reference fails there. None: its own error's `where`.
   */
  locateMetric?(metric: MetricUse): string;
  readonly signal: AbortSignal;
  /** Where deterministic metric values are cached; none: no cache. */
  readonly cacheDir?: string;
  readonly noCache?: boolean;
  readonly emit?: (event: EvaluationEvent) => void;
}

/** Bumped when what a cached evaluation holds changes, so old entries stop matching. */
const EVAL_CACHE_FORMAT = 1;

export async function evaluateModels(parts: EvaluationParts): Promise<EvaluationResult> {
  const shared = new Map<string, Promise<unknown>>();
  const referenceBundle = await parts.reference.load();
  const measure = async (model: Measurable): Promise<EvaluatedModel> => {
    const values: Record<string, Record<string, number>> = {};
    const outcomes: Record<string, MetricOutcome> = {};
    const notes: string[] = [];
    const bundle = model === parts.reference ? referenceBundle : await model.load();
    for (const metric of parts.metrics) {
      parts.signal.throwIfAborted();
      const started = performance.now();
      const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
      parts.emit?.({ type: "metric-start", step: model.id, metric: metric.definition.id });
      const key = metric.definition.deterministic ? cacheKey(parts, metric, model) : undefined;
      const cached =
        key && parts.cacheDir && !parts.noCache ? await readCached(parts.cacheDir, key) : undefined;
      let outcome: MetricOutcome;
      if (cached) {
        values[metric.name] = cached;
        outcome = { id: metric.definition.id, cached: true, durationMs: elapsed() };
      } else {
        const log =
          (level: string) =>
          (message: string): void => {
            if (level !== "debug") notes.push(`${metric.definition.id}: ${message}`);
          };
        const logger: Logger = { debug: log("debug"), info: log("info"), warn: log("warn") };
        try {
          const measured = await metric.definition.measure(bundle, {
            sessions: parts.sessions,
            reference: referenceBundle,
            candidatePath: model.path,
            referencePath: parts.reference.path,
            target: parts.target,
            seed: parts.seed,
            data: (name) => readData(parts, metric, name),
            resolve: (path) => (parts.resolve ? parts.resolve(path) : resolvePath(path)),
            logger,
            shared: <T>(k: string, compute: () => Promise<T>) => {
              let entry = shared.get(k);
              if (!entry) {
                entry = compute();
                shared.set(k, entry);
              }
              return entry as Promise<T>;
            },
            signal: parts.signal,
            options: metric.options,
          });
          checkValues(metric, measured);
          values[metric.name] = measured;
          if (key && parts.cacheDir) await writeCached(parts.cacheDir, key, measured);
          outcome = { id: metric.definition.id, cached: false, durationMs: elapsed() };
        } catch (error) {
          if (parts.signal.aborted) throw errors.runInterrupted(undefined);
          // A plugin that breaks its contract is its author's bug, not the candidate's fault.
          if (isLatheError(error) && error.code === "PLUGIN_CONTRACT") throw error;
          // On the reference, a failure is the setup's (shapes, provider, data): nothing could be
          // judged against it, so the run stops with the real error and its hint.
          if (model === parts.reference) {
            if (parts.locateMetric) {
              throw atRecipeKey(
                error,
                parts.locateMetric(metric),
                `metric ${metric.definition.id} cannot measure the reference`,
              );
            }
            throw isLatheError(error)
              ? error
              : errors.metricFailed(model.path, metric.definition.id, model.id, error);
          }
          outcome = {
            id: metric.definition.id,
            cached: false,
            durationMs: elapsed(),
            error: error instanceof Error ? error.message : String(error),
          };
        }
      }
      outcomes[metric.name] = outcome;
      parts.emit?.({
        type: "metric-end",
        step: model.id,
        metric: metric.definition.id,
        cached: outcome.cached,
        durationMs: outcome.durationMs,
        ...(outcome.error ? { error: outcome.error } : {}),
      });
    }
    return { id: model.id, values, metrics: outcomes, notes };
  };

  const reference = await measure(parts.reference);
  const candidates: EvaluatedCandidate[] = [];
  for (const candidate of parts.candidates) {
    const evaluated = await measure(candidate);
    const verdict = judge(parts.constraints, evaluated.values, reference.values);
    const failures = Object.entries(evaluated.metrics)
      .filter(([, o]) => o.error !== undefined)
      .map(([name, o]) => ({
        constraint: `${name} measured`,
        passed: false,
        reason: `${o.id} failed: ${o.error}`,
      }));
    candidates.push({
      ...evaluated,
      verdict: {
        accepted: verdict.accepted && failures.length === 0,
        checks: [...failures, ...verdict.checks],
      },
    });
  }
  return { reference, candidates, selection: select(parts, candidates) };
}

function select(parts: EvaluationParts, candidates: readonly EvaluatedCandidate[]): Selection {
  const scored = candidates.map((c) => ({
    id: c.id,
    accepted: c.verdict.accepted,
    values: c.values,
  }));
  if (parts.select.pareto) {
    const [a, b] = parts.select.pareto;
    return paretoFront(scored, [
      { name: a, direction: directionOf(parts, a) },
      { name: b, direction: directionOf(parts, b) },
    ]);
  }
  if (parts.select.objective) {
    return selectByObjective(scored, {
      name: parts.select.objective,
      direction: parts.select.direction,
    });
  }
  // No objective: the accepted candidate, when there is exactly one.
  const accepted = scored.filter((c) => c.accepted).map((c) => c.id);
  if (accepted.length === 1) {
    return {
      kind: "objective",
      objective: { name: "", direction: parts.select.direction },
      selected: accepted[0]!,
      tiedWith: [],
      reason: "the only accepted candidate (select: names no objective)",
    };
  }
  return {
    kind: "none",
    reason:
      accepted.length === 0
        ? "no candidate met the constraints"
        : `${accepted.length} candidates were accepted and select: names no objective or pareto to choose`,
  };
}

/** A Pareto value's direction: as its metric declares (`lower`/`higher`), else `select.direction`. */
function directionOf(parts: EvaluationParts, name: string): "minimize" | "maximize" {
  const dot = name.indexOf(".");
  const metric = parts.metrics.find((m) => m.name === name.slice(0, dot));
  const key = name.slice(dot + 1);
  const better =
    metric?.definition.values?.[key] ??
    metric?.definition.values?.[key.slice(key.lastIndexOf(".") + 1)];
  if (better === "lower") return "minimize";
  if (better === "higher") return "maximize";
  return parts.select.direction;
}

function checkValues(metric: MetricUse, values: unknown): asserts values is Record<string, number> {
  const ok =
    typeof values === "object" &&
    values !== null &&
    Object.values(values).every((v) => typeof v === "number");
  if (!ok) {
    throw errors.pluginContract(
      metric.plugin.name,
      `metric ${metric.definition.id}`,
      "returned something other than { [value: string]: number }",
      "return the measured values from measure(), e.g. { p50: 12.5, p90: 14.1 }",
    );
  }
}

function cacheKey(parts: EvaluationParts, metric: MetricUse, model: Measurable): string {
  return canonicalHash({
    format: EVAL_CACHE_FORMAT,
    model: model.digest,
    reference: parts.reference.digest,
    metric: metric.definition.id,
    plugin: {
      name: metric.plugin.name,
      version: metric.plugin.version,
      code: metric.plugin.code ?? null,
    },
    engine: parts.engine ?? null,
    options: metric.options,
    data: metric.data ?? {},
    shapes: parts.target.shapes,
    seed: parts.seed,
  });
}

/** A data set for a metric: only those its options name, since only those are in its key. */
function readData(parts: EvaluationParts, metric: MetricUse, name: string): DataSet {
  const set = parts.data(name, metric);
  if (metric.data !== undefined && !Object.hasOwn(metric.data, name)) {
    throw errors.pluginContract(
      metric.plugin.name,
      `metric ${metric.definition.id}`,
      `read data "${name}", which its options do not name`,
      "take the data set's name from an option (as core/fidelity's data: does): cached values are keyed by the data their options name, so data read otherwise could be stale",
    );
  }
  return set;
}

async function readCached(dir: string, key: string): Promise<Record<string, number> | undefined> {
  try {
    const stored = JSON.parse(await readFile(join(dir, `${key}.json`), "utf8")) as {
      values: Record<string, number | string>;
    };
    // JSON has no Infinity or NaN: they are stored as strings.
    return Object.fromEntries(Object.entries(stored.values).map(([k, v]) => [k, Number(v)]));
  } catch {
    return undefined;
  }
}

async function writeCached(
  dir: string,
  key: string,
  values: Record<string, number>,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${key}.json`);
  const temp = `${file}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  await writeFile(temp, `${JSON.stringify({ values }, jsonNumbers)}\n`);
  await rename(temp, file);
}

/** A JSON.stringify replacer that keeps Infinity and NaN as strings instead of `null`. */
export function jsonNumbers(_key: string, value: unknown): unknown {
  return typeof value === "number" && !Number.isFinite(value) ? String(value) : value;
}
