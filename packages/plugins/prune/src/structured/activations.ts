import {
  collectGrams,
  decodeModel,
  encodeModel,
  type Model,
  type PassContext,
  type Tensor,
  type Value,
} from "@lathe/core";
import { calibrationRecords } from "../calibration.js";

/**
 * Statistics of an activation's last axis over the calibration tokens: sums, sums of squares
 * and, when asked for, the second-moment matrix Σ x xᵀ (the reconstruction's normal equations).
 */
export class ChannelStatistics {
  readonly channels: number;
  rows = 0;
  readonly sum: Float64Array;
  readonly sumSquares: Float64Array;
  /** Σ x xᵀ, row-major channels × channels (from ORT's GEMM: core's `collectGrams`). */
  moment: Float64Array | undefined;

  constructor(channels: number) {
    this.channels = channels;
    this.sum = new Float64Array(channels);
    this.sumSquares = new Float64Array(channels);
  }

  add(values: Float32Array): void {
    const k = this.channels;
    for (let r = 0; r + k <= values.length; r += k) {
      this.rows++;
      for (let i = 0; i < k; i++) {
        const x = values[r + i] as number;
        this.sum[i] = (this.sum[i] as number) + x;
        this.sumSquares[i] = (this.sumSquares[i] as number) + x * x;
      }
    }
  }

  mean(i: number): number {
    return this.rows ? (this.sum[i] as number) / this.rows : 0;
  }

  /** ‖X_i‖₂ over the tokens. */
  norm(i: number): number {
    return Math.sqrt(this.sumSquares[i] as number);
  }

  /** The sample variance of channel i (FLAP's fluctuation). */
  variance(i: number): number {
    if (this.rows < 2) return 0;
    const mean = this.mean(i);
    return Math.max(
      0,
      ((this.sumSquares[i] as number) - this.rows * mean * mean) / (this.rows - 1),
    );
  }
}

/**
 * Runs the calibration records through a copy of `model` that exposes `values` as outputs and
 * gathers each one's last-axis statistics.
 */
export async function collectStatistics(
  model: Model,
  values: ReadonlyMap<Value, number>,
  withMoments: boolean,
  context: PassContext<{ data?: string; samples: number }>,
): Promise<Map<Value, ChannelStatistics>> {
  const copy = decodeModel(encodeModel(model));
  const inputs = new Set(copy.graph.inputs.map((v) => v.name));
  const byName = new Map<string, Value>();
  for (const node of copy.graph.nodes()) for (const o of node.outputs) byName.set(o.name, o);
  const names: string[] = [];
  for (const value of values.keys()) {
    const inCopy = byName.get(value.name);
    if (!inCopy || inputs.has(value.name)) continue;
    if (!copy.graph.outputs.includes(inCopy)) copy.graph.outputs.push(inCopy);
    names.push(value.name);
  }
  const stats = new Map<Value, ChannelStatistics>();
  for (const [value, channels] of values) stats.set(value, new ChannelStatistics(channels));
  const records = await calibrationRecords(model, context);
  const session = context.sessions.open ? await context.sessions.open(copy) : undefined;
  try {
    context.progress.start(records.length, "calibrating (channel statistics)");
    for (const record of records) {
      context.signal.throwIfAborted();
      const out = session
        ? await session.run(record, names)
        : (await context.sessions.run(copy, [record], { outputs: names }))[0];
      for (const [value, stat] of stats) {
        const tensor: Tensor | undefined = out?.[value.name] ?? record[value.name];
        if (tensor) stat.add(tensor.toArray() as Float32Array);
      }
      context.progress.advance(1);
    }
  } finally {
    await session?.release();
  }
  if (withMoments) {
    // Σ x xᵀ by ORT's GEMM (JavaScript would spend minutes on a 3072-wide MLP input)
    context.progress.start(records.length, "calibrating (second moments)");
    const grams = await collectGrams(model, values, {
      sessions: context.sessions,
      records,
      signal: context.signal,
      onBatch: (n) => context.progress.advance(n),
    });
    for (const [value, stat] of stats) stat.moment = grams.get(value)?.xtx;
  }
  return stats;
}
