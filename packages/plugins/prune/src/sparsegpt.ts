import { dampedInverseCholeskyBlocked, type MatrixProducts, pinDeadInputs } from "@lathe/core";
import { dropLowest } from "./select.js";

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
 *
 * The large products run on `products` (ONNX Runtime's float64 GEMM): U's factor and the lazy
 * update of the later columns, W[:, i₂:] −= E·U[i₁:i₂, i₂:]. The weight is walked transposed
 * ([K, rows]), so that a column is contiguous and the later columns are one contiguous block.
 */
export async function pruneSparseGpt(
  weight: ArrayLike<number>,
  rows: number,
  columns: number,
  hessian: Float64Array,
  pattern: SparseGptPattern,
  settings: SparseGptSettings,
  products: MatrixProducts,
): Promise<SparseGptResult> {
  const k = columns;
  const rowMajor = Float64Array.from(weight);
  const h = Float64Array.from(hessian);
  pinDeadInputs(h, k, rowMajor, rows);
  const u = await dampedInverseCholeskyBlocked(h, k, settings.dampPercent, products);
  // wt[c * rows + r] = W[r, c]
  const wt = new Float64Array(k * rows);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < k; c++) wt[c * rows + r] = rowMajor[r * k + c] as number;

  const keep = new Uint8Array(rows * k).fill(1);
  const m = pattern.kind === "n-m" ? pattern.m : 1;
  // A whole number of N:M groups per block, so a group never straddles a lazy update.
  const block = Math.max(1, Math.ceil(settings.blockSize / m)) * m;
  // errT[t * rows + r]: the error of row r at the block's column t, divided by U_cc.
  const errT = new Float64Array(block * rows);
  let error = 0;
  for (let i1 = 0; i1 < k; i1 += block) {
    const i2 = Math.min(i1 + block, k);
    if (pattern.kind === "unstructured") blockMask(wt, u, keep, rows, k, i1, i2, pattern.sparsity);
    for (let c = i1; c < i2; c++) {
      if (pattern.kind === "n-m" && (c - i1) % m === 0)
        groupMask(wt, u, keep, rows, k, c, pattern.n, m);
      const d = u[c * k + c] as number;
      const column = c * rows;
      const errors = (c - i1) * rows;
      for (let r = 0; r < rows; r++) {
        const value = wt[column + r] as number;
        const q = keep[r * k + c] ? value : 0;
        wt[column + r] = q;
        const e = (value - q) / d;
        errT[errors + r] = e;
        error += (e * e) / 2;
      }
      // Inside the block at once: W[:, j] −= e·U[c, j] for the block's later columns.
      for (let j = c + 1; j < i2; j++) {
        const f = u[c * k + j] as number;
        if (f === 0) continue;
        const target = j * rows;
        for (let r = 0; r < rows; r++)
          wt[target + r] = (wt[target + r] as number) - (errT[errors + r] as number) * f;
      }
    }
    // Lazy update of every later column with this block's errors: Wᵀ[i₂:] −= U[i₁:i₂, i₂:]ᵀ·Eᵀ.
    if (i2 < k) {
      const width = i2 - i1;
      const rest = k - i2;
      const uBlock = new Float64Array(width * rest);
      for (let t = 0; t < width; t++)
        uBlock.set(u.subarray((i1 + t) * k + i2, (i1 + t + 1) * k), t * rest);
      const updated = await products.product({
        a: uBlock,
        aDims: [width, rest],
        transA: true,
        b: width === block ? errT : errT.slice(0, width * rows),
        bDims: [width, rows],
        alpha: -1,
        c: wt.slice(i2 * rows),
      });
      wt.set(updated, i2 * rows);
    }
  }
  const values = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < k; c++) values[r * k + c] = wt[c * rows + r] as number;
  // A surviving weight can round to zero only by accident; pruned ones are exactly zero.
  for (let i = 0; i < values.length; i++) if (!keep[i]) values[i] = 0;
  return { values, keep, error };
}

/** Unstructured: the lowest `sparsity` of the block's w²/U_cc² (all rows together) are dropped. */
function blockMask(
  wt: Float64Array,
  u: Float64Array,
  keep: Uint8Array,
  rows: number,
  k: number,
  i1: number,
  i2: number,
  sparsity: number,
): void {
  const width = i2 - i1;
  // Ordered row by row, as the weight is stored: equal scores drop in that order.
  const scores = new Float64Array(rows * width);
  for (let c = i1; c < i2; c++) {
    const d = u[c * k + c] as number;
    const column = c * rows;
    for (let r = 0; r < rows; r++)
      scores[r * width + (c - i1)] = (wt[column + r] as number) ** 2 / (d * d);
  }
  dropLowest(scores, Math.floor(sparsity * scores.length), keep, (at) => {
    const r = Math.floor(at / width);
    return r * k + i1 + (at - r * width);
  });
}

/** N:M: in every row, the M − N lowest w²/U_cc² of columns c…c+M−1 are dropped (equal ones left first). */
function groupMask(
  wt: Float64Array,
  u: Float64Array,
  keep: Uint8Array,
  rows: number,
  k: number,
  c: number,
  n: number,
  m: number,
): void {
  const saliency = new Float64Array(m);
  const dropped = new Uint8Array(m);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < m; j++) {
      saliency[j] =
        (wt[(c + j) * rows + r] as number) ** 2 / (u[(c + j) * k + c + j] as number) ** 2;
    }
    dropped.fill(0);
    for (let x = 0; x < m - n; x++) {
      let lowest = -1;
      for (let j = 0; j < m; j++)
        if (!dropped[j] && (lowest < 0 || (saliency[j] as number) < (saliency[lowest] as number)))
          lowest = j;
      dropped[lowest] = 1;
      keep[r * k + c + lowest] = 0;
    }
  }
}
