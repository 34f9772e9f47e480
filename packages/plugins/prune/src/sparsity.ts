import type { Layer } from "./layers.js";

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
  const groups: number[][] =
    per === "layer"
      ? [Array.from({ length: scores.length }, (_, i) => i)]
      : Array.from({ length: layer.outputs }, (_, o) => {
          const members: number[] = [];
          for (let i = 0; i < layer.inputs; i++)
            for (let s = 0; s < layer.spatial; s++) members.push(layer.index(o, i, s));
          return members;
        });
  for (const members of groups) {
    const drop = Math.floor(sparsity * members.length);
    members.sort((a, b) => (scores[a] ?? 0) - (scores[b] ?? 0) || a - b);
    for (let j = 0; j < drop; j++) keep[members[j] as number] = 0;
  }
  return keep;
}

/**
 * N:M semi-structured sparsity: in every run of M consecutive input channels of one output (and
 * spatial position), the N highest-scoring weights survive — the pattern sparse tensor cores
 * run (2:4).
 */
export function nmMask(layer: Layer, scores: Float64Array, n: number, m: number): Uint8Array {
  const keep = new Uint8Array(scores.length);
  const group: number[] = [];
  for (let o = 0; o < layer.outputs; o++) {
    for (let s = 0; s < layer.spatial; s++) {
      for (let start = 0; start < layer.inputs; start += m) {
        group.length = 0;
        for (let i = start; i < start + m; i++) group.push(layer.index(o, i, s));
        group.sort((a, b) => (scores[b] ?? 0) - (scores[a] ?? 0) || a - b);
        for (let j = 0; j < n; j++) keep[group[j] as number] = 1;
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
