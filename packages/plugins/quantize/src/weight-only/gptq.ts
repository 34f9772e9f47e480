import { dampedInverseCholesky, pinDeadInputs } from "@lathe/core";
import {
  allocateBlocks,
  type BlockParams,
  type BlockQuantConfig,
  type BlockQuantized,
  blockParams,
  dequantizeValue,
  quantizeValue,
} from "./block-quant.js";

export interface GptqSettings extends BlockQuantConfig {
  /** Damping added to the diagonal, as a fraction of its mean (GPTQ's percdamp). */
  readonly dampPercent: number;
  /** Process columns by decreasing Hessian diagonal; block parameters come from the unquantized weight. */
  readonly actOrder: boolean;
  /** Columns quantized before the lazy update of the rest. */
  readonly lazyBlock: number;
}

/**
 * GPTQ (Frantar et al., 2022, Algorithm 1) on one layer: `weight` is [rows, columns] (rows are
 * output channels, columns the K inputs the Hessian `hessian` [columns, columns] = 2XᵀX/n is
 * over). Columns are quantized one at a time and each one's error, scaled by the Cholesky
 * factor of H⁻¹, is pushed onto the columns not yet quantized: inside a lazy block at once,
 * onto the rest once per block.
 *
 * Block parameters (scale, zero point) follow K's blocks so MatMulNBits can store them: without
 * act-order they are chosen when the walk reaches a block's first column, from the updated
 * weights; with act-order the walk visits columns out of order, so every block's parameters are
 * fixed up front from the original weights (AutoGPTQ's static groups).
 */
export function quantizeGptq(
  weight: Float32Array,
  rows: number,
  columns: number,
  hessian: Float64Array,
  settings: GptqSettings,
): BlockQuantized {
  const k = columns;
  const w = Float64Array.from(weight);
  const h = Float64Array.from(hessian);
  const out = allocateBlocks(rows, columns, settings);
  const { blockSize, blocks, bits } = out;
  const padded = blocks * blockSize;

  pinDeadInputs(h, k, w, rows);

  const params: BlockParams[] = new Array(rows * blocks);
  const setParams = (r: number, b: number) => {
    const start = b * blockSize;
    const p = blockParams(w, r * k + start, Math.min(blockSize, k - start), 1, settings);
    params[r * blocks + b] = p;
  };
  if (settings.actOrder)
    for (let r = 0; r < rows; r++) for (let b = 0; b < blocks; b++) setParams(r, b);

  const order = Array.from({ length: k }, (_, i) => i);
  if (settings.actOrder) order.sort((a, b) => (h[b * k + b] as number) - (h[a * k + a] as number));
  // Permuted copies: the walk reads columns in `order`.
  const wp = permuteColumns(w, rows, k, order);
  const hp = permuteSymmetric(h, k, order);

  const u = dampedInverseCholesky(hp, k, settings.dampPercent);

  // A whole number of K blocks, so a block's columns are all up to date when its scale is chosen.
  const lazy = Math.max(1, Math.round(settings.lazyBlock / blockSize)) * blockSize;
  const err = new Float64Array(rows * lazy);
  for (let i1 = 0; i1 < k; i1 += lazy) {
    const i2 = Math.min(i1 + lazy, k);
    for (let i = i1; i < i2; i++) {
      const column = order[i] as number;
      const b = Math.floor(column / blockSize);
      const d = u[i * k + i] as number;
      const uRow = i * k;
      for (let r = 0; r < rows; r++) {
        const rowBase = r * k;
        if (!settings.actOrder && column % blockSize === 0) {
          // The block's columns are contiguous and still ahead of the walk: read them in wp.
          const start = b * blockSize;
          const p = blockParams(wp, rowBase + start, Math.min(blockSize, k - start), 1, settings);
          params[r * blocks + b] = p;
        }
        const p = params[r * blocks + b] as BlockParams;
        const value = wp[rowBase + i] as number;
        const q = quantizeValue(value, p, bits);
        out.values[r * padded + column] = q;
        const e = (value - dequantizeValue(q, p)) / d;
        err[r * lazy + (i - i1)] = e;
        for (let j = i + 1; j < i2; j++)
          wp[rowBase + j] = (wp[rowBase + j] as number) - e * (u[uRow + j] as number);
      }
    }
    // Lazy update of every later column with this block's errors.
    for (let r = 0; r < rows; r++) {
      const rowBase = r * k;
      for (let t = 0; t < i2 - i1; t++) {
        const e = err[r * lazy + t] as number;
        if (e === 0) continue;
        const uRow = (i1 + t) * k;
        for (let j = i2; j < k; j++)
          wp[rowBase + j] = (wp[rowBase + j] as number) - e * (u[uRow + j] as number);
      }
    }
  }

  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < blocks; b++) {
      const p = params[r * blocks + b] as BlockParams;
      out.scales[r * blocks + b] = p.scale;
      out.zeroPoints[r * blocks + b] = p.zeroPoint;
      for (let c = Math.min(k, (b + 1) * blockSize); c < (b + 1) * blockSize; c++)
        out.values[r * padded + c] = p.zeroPoint;
    }
  }
  return out;
}

function permuteColumns(w: Float64Array, rows: number, k: number, order: number[]): Float64Array {
  const out = new Float64Array(rows * k);
  for (let r = 0; r < rows; r++)
    for (let i = 0; i < k; i++) out[r * k + i] = w[r * k + (order[i] as number)] as number;
  return out;
}

function permuteSymmetric(h: Float64Array, k: number, order: number[]): Float64Array {
  const out = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    const src = (order[i] as number) * k;
    for (let j = 0; j < k; j++) out[i * k + j] = h[src + (order[j] as number)] as number;
  }
  return out;
}
