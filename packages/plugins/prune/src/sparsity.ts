import type { Layer } from "./layers.js";
import { dropLowest } from "./select.js";

export type Criterion = "magnitude" | "wanda" | "sparsegpt";

/**
 * Importance of every weight, in the stored layout: |W| (magnitude), or |W|·‖X_c‖₂ with the
 * input activation's norm over the calibration data for the channel the weight multiplies
 * (Wanda, Sun et al. 2023).
 */
export function weightScores(
  layer: Layer,
  values: Float32Array,
  norms?: Float64Array,
): Float64Array {
  const scores = Float64Array.from(values, Math.abs);
  if (!norms) return scores;
  for (let o = 0; o < layer.outputs; o++) {
    for (let i = 0; i < layer.inputs; i++) {
      const norm = norms[layer.channel(o, i)] ?? 0;
      for (let s = 0; s < layer.spatial; s++) {
        const at = layer.index(o, i, s);
        scores[at] = (scores[at] ?? 0) * norm;
      }
    }
  }
  return scores;
}

/**
 * Which weights survive (1) when `sparsity` of them are zeroed, lowest scores first: over the
 * whole layer, or within each output (Wanda compares weights of one output with each other).
 */
export function unstructuredMask(
  layer: Layer,
  scores: Float64Array,
  sparsity: number,
  per: "layer" | "output",
): Uint8Array {
  const keep = new Uint8Array(scores.length).fill(1);
  if (per === "layer") {
    dropLowest(scores, Math.floor(sparsity * scores.length), keep);
    return keep;
  }
  // One output's weights in increasing stored index (every layout orders them so), which is
  // the order equal scores drop in.
  const members = new Int32Array(layer.inputs * layer.spatial);
  const group = new Float64Array(members.length);
  for (let o = 0; o < layer.outputs; o++) {
    let j = 0;
    for (let i = 0; i < layer.inputs; i++)
      for (let s = 0; s < layer.spatial; s++) {
        const at = layer.index(o, i, s);
        members[j] = at;
        group[j++] = scores[at] ?? 0;
      }
    dropLowest(group, Math.floor(sparsity * group.length), keep, (i) => members[i] as number);
  }
  return keep;
}

/**
 * N:M semi-structured sparsity: in every run of M consecutive input channels of one output (and
 * spatial position), the N highest-scoring weights survive — the pattern sparse tensor cores
 * run (2:4); of equal scores the lower input channel survives.
 */
export function nmMask(layer: Layer, scores: Float64Array, n: number, m: number): Uint8Array {
  const keep = new Uint8Array(scores.length);
  const group = new Int32Array(m);
  for (let o = 0; o < layer.outputs; o++) {
    for (let s = 0; s < layer.spatial; s++) {
      for (let start = 0; start < layer.inputs; start += m) {
        const size = Math.min(m, layer.inputs - start);
        for (let i = 0; i < size; i++) group[i] = layer.index(o, start + i, s);
        for (let x = 0; x < Math.min(n, size); x++) {
          let best = -1;
          let bestScore = 0;
          for (let i = 0; i < size; i++) {
            const at = group[i] as number;
            const score = scores[at] ?? 0;
            if (!keep[at] && (best < 0 || score > bestScore)) {
              best = at;
              bestScore = score;
            }
          }
          keep[best] = 1;
        }
      }
    }
  }
  return keep;
}

/** The score below which weights are zeroed so that `sparsity` of all of them go: one threshold for every layer. */
export function globalThreshold(all: readonly Float64Array[], sparsity: number): number {
  const total = all.reduce((n, s) => n + s.length, 0);
  const drop = Math.floor(sparsity * total);
  if (drop === 0) return Number.NEGATIVE_INFINITY;
  const merged = new Float64Array(total);
  let offset = 0;
  for (const s of all) {
    merged.set(s, offset);
    offset += s.length;
  }
  merged.sort();
  return merged[drop - 1] as number;
}

/** Zeroes what the mask drops; returns the new values and how many are zero. */
export function applyMask(
  values: Float32Array,
  keep: Uint8Array,
): { values: Float32Array; zeros: number } {
  const out = Float32Array.from(values);
  let zeros = 0;
  for (let i = 0; i < out.length; i++) {
    if (!keep[i]) out[i] = 0;
    if (out[i] === 0) zeros++;
  }
  return { values: out, zeros };
}
