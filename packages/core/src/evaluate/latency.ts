import { latencyOptionsSchema } from "../generated/options.js";
import { defineMetric } from "../plugin/define.js";
import type { DataSet, MetricContext } from "../plugin/types.js";
import { openSession } from "../runtime/index.js";
import { artifactComponents } from "./artifact.js";
import { mergeComponents } from "./components.js";
import { batchSize, evaluationInputs, tokenCount } from "./inputs.js";
import { summarizeTimings } from "./stats.js";
import { type TimingPlan, timeRuns } from "./timing.js";

export interface LatencyOptions {
  /**
   * Untimed runs first (caches, allocations, lazy kernels).
   * @integer
   * @minimum 0
   * @default 3
   */
  warmup: number;
  /**
   * Timed runs at least.
   * @integer
   * @minimum 1
   * @default 20
   */
  runs: number;
  /**
   * Keep timing until this many milliseconds have passed (and `runs` are done).
   * @minimum 0
   * @default 1000
   */
  minTimeMs: number;
  /**
   * Stop after this many timed runs even if `minTimeMs` is not reached.
   * @integer
   * @minimum 1
   * @default 10000
   */
  maxRuns: number;
  /**
   * A data set from the recipe's data: to take the input from (default: generated inputs); its
   * first record is timed.
   */
  data?: string;
}

/**
 * Times one component on the runtime: the first input record, converted once, run `warmup`
 * times untimed, then until both `runs` and `minTimeMs` are reached. Milliseconds.
 */
export async function measureComponentLatency(
  file: string,
  plan: TimingPlan,
  context: Pick<MetricContext, "target" | "seed" | "signal" | "logger"> & {
    readonly data?: DataSet;
  },
  clock: () => number = () => performance.now(),
): Promise<Record<string, number>> {
  const session = await openSession(file, { target: context.target });
  try {
    for (const note of session.notes) context.logger.warn(note);
    context.logger.info(`ran on ${session.provider}`);
    const [record] = await evaluationInputs(session.inputs, session.outputs, {
      target: context.target,
      seed: context.seed,
      samples: 1,
      ...(context.data ? { data: context.data } : {}),
    });
    const feeds = session.toOrtFeeds(record ?? {});
    const samples = await timeRuns(() => session.runRaw(feeds), plan, clock, context.signal);
    const s = summarizeTimings(samples);
    const perSecond = 1000 / s.p50;
    const tokens = tokenCount(record ?? {});
    return {
      p50: s.p50,
      p90: s.p90,
      p99: s.p99,
      mean: s.mean,
      min: s.min,
      max: s.max,
      stddev: s.stddev,
      cv: s.cv,
      runs: s.runs,
      throughput: batchSize(record ?? {}) * perSecond,
      ...(tokens > 0 ? { tokensPerSecond: tokens * perSecond } : {}),
    };
  } finally {
    await session.release();
  }
}

export const latencyMetric = defineMetric<LatencyOptions>({
  id: "core/latency",
  summary:
    "Run time on ONNX Runtime: p50/p90/p99/mean in ms, spread, throughput (items/s, tokens/s).",
  options: latencyOptionsSchema,
  values: {
    p50: "lower",
    p90: "lower",
    p99: "lower",
    mean: "lower",
    min: "lower",
    max: "lower",
    stddev: "lower",
    cv: "lower",
    runs: "higher",
    throughput: "higher",
    tokensPerSecond: "higher",
  },
  async measure(_candidate, context) {
    const { options } = context;
    const plan: TimingPlan = options;
    const data = options.data === undefined ? undefined : context.data(options.data);
    const perComponent = new Map<string, Record<string, number>>();
    for (const [name, file] of await artifactComponents(context.candidatePath)) {
      perComponent.set(
        name,
        await measureComponentLatency(file, plan, {
          target: context.target,
          seed: context.seed,
          signal: context.signal,
          logger: context.logger,
          ...(data ? { data } : {}),
        }),
      );
    }
    return mergeComponents(perComponent);
  },
});
