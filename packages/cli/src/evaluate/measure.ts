/** Runs built-in metrics on stored models for `lathe bench` and `lathe compare`. */
import {
  builtinMetricsPlugin,
  createCpuSessions,
  type EvaluationResult,
  evaluateModels,
  jsonNumbers,
  LatheError,
  type MetricUse,
  measurableFile,
  type TargetSpec,
} from "@lathe/core";

export interface MeasureRequest {
  readonly reference: string;
  readonly candidates?: readonly string[];
  /** Metric name (`latency`) → its options, defaults filled in by the caller. */
  readonly metrics: Readonly<Record<string, Record<string, unknown>>>;
  readonly target: TargetSpec;
  readonly signal: AbortSignal;
  readonly onProgress?: (text: string) => void;
}

export async function measureFiles(request: MeasureRequest): Promise<EvaluationResult> {
  const metrics: MetricUse[] = Object.entries(request.metrics).map(([name, options]) => {
    const definition = builtinMetricsPlugin.metrics.find((m) => m.id === `core/${name}`)!;
    return { name, definition, plugin: builtinMetricsPlugin.meta, options };
  });
  const reference = await measurableFile(request.reference);
  const candidates = await Promise.all((request.candidates ?? []).map((c) => measurableFile(c)));
  return evaluateModels({
    metrics,
    constraints: [],
    select: { direction: "minimize" },
    reference,
    candidates,
    target: request.target,
    seed: 0,
    sessions: createCpuSessions({ threads: request.target.threads }),
    data: (name) => {
      throw new LatheError("DATA_UNKNOWN", `data "${name}": this command reads no data sets`);
    },
    signal: request.signal,
    emit: (event) => {
      if (event.type === "metric-start") request.onProgress?.(`${event.step}: ${event.metric}…`);
    },
  });
}

/** JSON output keeps Infinity/NaN (an exact PSNR) as strings, as report.json does. */
export function jsonSafe<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, jsonNumbers)) as T;
}

/** A metric that failed on a model fails the command: there is no verdict to fall back on. */
export function throwOnMetricErrors(result: EvaluationResult): void {
  for (const model of [result.reference, ...result.candidates]) {
    for (const outcome of Object.values(model.metrics)) {
      if (outcome.error) {
        throw new LatheError(
          "METRIC_FAILED",
          `${outcome.id} failed on ${model.id}: ${outcome.error}`,
          {
            hint: "check the model runs: lathe inspect it, or give --shape for its symbolic inputs",
          },
        );
      }
    }
  }
}
