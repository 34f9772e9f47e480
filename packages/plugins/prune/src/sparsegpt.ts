import { dampedInverseCholesky, pinDeadInputs } from "@lathe/core";

/** What SparseGPT zeroes: a share of each block's weights, or N:M along the inputs. */
export type SparseGptPattern =
  | { readonly kind: "unstructured"; readonly sparsity: number }
  | { readonly kind: "n-m"; readonly n: number; readonly m: number };

export interface SparseGptSettings {
  /** Columns whose mask is chosen together, then updated before the lazy update of the rest. */
  readonly blockSize: number;
  /** Damping added to the Hessian diagonal, as a fraction of its mean. */
  readonly dampPercent: number;
}

export interface SparseGptResult {
  /** The pruned and updated weight, [rows, columns] like the input. */
  readonly values: Float32Array;
  /** 1 where a weight survives. */
  readonly keep: Uint8Array;
  /**
   * ½ Σ (w − q)² / [H⁻¹]ᵢᵢ over the walk: the increase of the layer's squared output error
   * (mean over calibration rows, summed over outputs) that the OBS updates leave.
   */
  readonly error: number;
}

/**
 * SparseGPT (Frantar & Alistarh, 2023) on one layer: `weight` is [rows, columns] (rows are the
 * outputs, columns the K inputs the Hessian `hessian` [K, K] = 2XᵀX/n is over). The columns are
 * walked left to right with U, the upper Cholesky factor of H⁻¹ (the rows of U are the inverse
 * Hessians of the columns not yet walked, already eliminated). At the start of every block of
 * `blockSize` columns the block's mask is chosen by the OBS saliency w² / U_cc² (unstructured:
 * the lowest `sparsity` of the block's weights over all rows; N:M: in each row the M − N lowest
 * of every M consecutive columns, chosen when the walk reaches the group); then every pruned
 * weight's error is pushed onto the columns to its right (at once inside the block, onto the
 * rest once per block), so the remaining weights compensate for it. The code follows the
 * authors' `sparsegpt.py` `fasterprune`.
 */
export function pruneSparseGpt(
  weight: ArrayLike<number>,
  rows: number,
  columns: number,
  hessian: Float64Array,
  pattern: SparseGptPattern,
  settings: SparseGptSettings,
): SparseGptResult {
  const k = columns;
  const w = Float64Array.from(weight);
  const h = Float64Array.from(hessian);
  pinDeadInputs(h, k, w, rows);
  const u = dampedInverseCholesky(h, k, settings.dampPercent);

  const keep = new Uint8Array(rows * k).fill(1);
  const m = pattern.kind === "n-m" ? pattern.m : 1;
  // A whole number of N:M groups per block, so a group never straddles a lazy update.
  const block = Math.max(1, Math.ceil(settings.blockSize / m)) * m;
  const err = new Float64Array(rows * block);
  let error = 0;
  for (let i1 = 0; i1 < k; i1 += block) {
    const i2 = Math.min(i1 + block, k);
    if (pattern.kind === "unstructured") blockMask(w, u, keep, rows, k, i1, i2, pattern.sparsity);
    for (let c = i1; c < i2; c++) {
      if (pattern.kind === "n-m" && (c - i1) % m === 0)
        groupMask(w, u, keep, rows, k, c, pattern.n, m);
      const d = u[c * k + c] as number;
      const uRow = c * k;
      for (let r = 0; r < rows; r++) {
        const at = r * k + c;
        const value = w[at] as number;
        const q = keep[at] ? value : 0;
        w[at] = q;
        const e = (value - q) / d;
        err[r * block + (c - i1)] = e;
        if (e === 0) continue;
        error += (e * e) / 2;
        const rowBase = r * k;
        for (let j = c + 1; j < i2; j++)
          w[rowBase + j] = (w[rowBase + j] as number) - e * (u[uRow + j] as number);
      }
    }
    // Lazy update of every later column with this block's errors.
    for (let r = 0; r < rows; r++) {
      const rowBase = r * k;
      for (let t = 0; t < i2 - i1; t++) {
        const e = err[r * block + t] as number;
        if (e === 0) continue;
        const uRow = (i1 + t) * k;
        for (let j = i2; j < k; j++)
          w[rowBase + j] = (w[rowBase + j] as number) - e * (u[uRow + j] as number);
      }
    }
  }
  const values = Float32Array.from(w);
  // A surviving weight can round to zero only by accident; pruned ones are exactly zero.
  for (let i = 0; i < values.length; i++) if (!keep[i]) values[i] = 0;
  return { values, keep, error };
}

/** Unstructured: the lowest `sparsity` of the block's w²/U_cc² (all rows together) are dropped. */
function blockMask(
  w: Float64Array,
  u: Float64Array,
  keep: Uint8Array,
  rows: number,
  k: number,
  i1: number,
  i2: number,
  sparsity: number,
): void {
  const width = i2 - i1;
  const scores = new Float64Array(rows * width);
  for (let c = i1; c < i2; c++) {
    const d = u[c * k + c] as number;
    for (let r = 0; r < rows; r++)
      scores[r * width + (c - i1)] = (w[r * k + c] as number) ** 2 / (d * d);
  }
  const drop = Math.floor(sparsity * scores.length);
  if (drop === 0) return;
  const order = Array.from({ length: scores.length }, (_, i) => i);
  order.sort((a, b) => (scores[a] as number) - (scores[b] as number) || a - b);
  for (let j = 0; j < drop; j++) {
    const at = order[j] as number;
    keep[Math.floor(at / width) * k + i1 + (at % width)] = 0;
  }
}

/** N:M: in every row, the M − N lowest w²/U_cc² of columns c…c+M−1 are dropped. */
function groupMask(
  w: Float64Array,
  u: Float64Array,
  keep: Uint8Array,
  rows: number,
  k: number,
  c: number,
  n: number,
  m: number,
): void {
  const group = Array.from({ length: m }, (_, i) => c + i);
  const saliency = (r: number, j: number) =>
    (w[r * k + j] as number) ** 2 / (u[j * k + j] as number) ** 2;
  for (let r = 0; r < rows; r++) {
    group.sort((a, b) => saliency(r, a) - saliency(r, b) || a - b);
    for (let j = 0; j < m - n; j++) keep[r * k + (group[j] as number)] = 0;
  }
}
