import {
  decodeModel,
  encodeModel,
  type Model,
  type ModelBundle,
  type RewriteReport,
  singleModelBundle,
} from "@lathe/core";
import * as ort from "onnxruntime-node";
import { type RewriteOptions, rewriteAttention } from "../src/pass.js";

export const DEFAULTS: RewriteOptions = {
  target: "cpu",
  prefer: "contrib",
  include: [],
  exclude: [],
  explain: false,
};

/** A rewritten copy of a model (re-decoded from its bytes, so the original stays untouched). */
export async function rewritten(
  model: Model,
  options: Partial<RewriteOptions> = {},
): Promise<{ model: Model; report: RewriteReport }> {
  const copy = decodeModel(encodeModel(model));
  const bundle: ModelBundle = singleModelBundle(copy);
  const reports = rewriteAttention(bundle, { ...DEFAULTS, ...options });
  return { model: copy, report: [...reports.values()][0]! };
}

export function session(model: Model): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(encodeModel(model));
}

export type Feeds = Record<string, ort.Tensor>;

export function int64(rows: readonly (readonly number[])[]): ort.Tensor {
  return new ort.Tensor("int64", BigInt64Array.from(rows.flat(), BigInt), [
    rows.length,
    rows[0]?.length ?? 0,
  ]);
}

/** Deterministic values in [-1, 1). */
export function randomFloats(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  return out;
}

export function float32(dims: readonly number[], seed: number): ort.Tensor {
  return new ort.Tensor(
    "float32",
    randomFloats(
      dims.reduce((a, b) => a * b, 1),
      seed,
    ),
    dims,
  );
}

/**
 * Max |a − b| over every float output, optionally only where `keep(output, index)` holds
 * (rows a padding mask leaves undefined).
 */
export function maxDiff(
  a: ort.InferenceSession.ReturnType,
  b: ort.InferenceSession.ReturnType,
  keep?: (output: string, index: number, dims: readonly number[]) => boolean,
): number {
  let worst = 0;
  for (const [name, tensor] of Object.entries(a)) {
    const other = b[name];
    if (!other) throw new Error(`output ${name} is missing after the rewrite`);
    if (other.dims.join() !== tensor.dims.join())
      throw new Error(`output ${name}: dims ${other.dims} vs ${tensor.dims}`);
    const x = tensor.data as Float32Array;
    const y = other.data as Float32Array;
    for (let i = 0; i < x.length; i++) {
      if (keep && !keep(name, i, tensor.dims)) continue;
      const d = Math.abs(x[i]! - y[i]!);
      if (!(d <= worst)) worst = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
    }
  }
  return worst;
}

export function opCounts(model: Model): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const node of model.graph) counts[node.opType] = (counts[node.opType] ?? 0) + 1;
  return counts;
}
