import { upperCholeskyOfInverse } from "./cholesky.js";
import type { ActivationGram } from "./grams.js";

/**
 * The layer Hessian of the squared output error, H = 2·ΣXᵀX / rows, over the distinct
 * activations that feed one weight (a shared weight sees all their rows); undefined when
 * they hold no rows. All grams must have the same `k`.
 */
export function layerHessian(grams: readonly ActivationGram[]): Float64Array | undefined {
  const first = grams[0];
  if (!first) return undefined;
  const h = new Float64Array(first.k * first.k);
  let rows = 0;
  for (const gram of new Set(grams)) {
    if (gram.k !== first.k) throw new Error(`layerHessian: grams of k ${first.k} and ${gram.k}`);
    for (let i = 0; i < h.length; i++) h[i] = (h[i] as number) + (gram.xtx[i] as number);
    rows += gram.rows;
  }
  if (rows === 0) return undefined;
  for (let i = 0; i < h.length; i++) h[i] = (2 * (h[i] as number)) / rows;
  return h;
}

/**
 * Inputs whose Hessian diagonal is 0 never fired on the calibration data and carry no
 * information: their weights in `weight` ([rows, k], row-major) are set to 0 and their diagonal
 * to 1 so that H stays invertible (what GPTQ and SparseGPT do). Both arrays change in place;
 * returns how many inputs were dead.
 */
export function pinDeadInputs(
  hessian: Float64Array,
  k: number,
  weight: Float64Array,
  rows: number,
): number {
  let dead = 0;
  for (let c = 0; c < k; c++) {
    if ((hessian[c * k + c] as number) !== 0) continue;
    dead++;
    hessian[c * k + c] = 1;
    for (let r = 0; r < rows; r++) weight[r * k + c] = 0;
  }
  return dead;
}

/**
 * The upper Cholesky factor U of (H + λI)⁻¹ (UᵀU = (H + λI)⁻¹) that GPTQ and SparseGPT walk
 * the columns with, λ = `dampPercent` × the mean of H's diagonal. When H + λI is not positive
 * definite in float64 (rank-deficient activations), λ grows tenfold, up to six times.
 */
export function dampedInverseCholesky(
  hessian: Float64Array,
  k: number,
  dampPercent: number,
): Float64Array {
  let damp = 0;
  for (let c = 0; c < k; c++) damp += hessian[c * k + c] as number;
  damp = (dampPercent * damp) / k;
  for (let attempt = 0; attempt < 6; attempt++) {
    const damped = Float64Array.from(hessian);
    for (let c = 0; c < k; c++) damped[c * k + c] = (damped[c * k + c] as number) + damp;
    const u = upperCholeskyOfInverse(damped, k);
    if (u) return u;
    damp = damp > 0 ? damp * 10 : 1e-6;
  }
  throw new Error(
    `the damped ${k}×${k} Hessian is not positive definite (damping raised to ${damp / 10}): the calibration activations are degenerate`,
  );
}

/**
 * Σ over rows of ΔᵣᵀHΔᵣ, with Δ = weight − approximation ([rows, columns]): the summed squared
 * layer-output error over the activations H = XᵀX was accumulated from (with H = XᵀX/n, the
 * mean). Lets a caller compare quantizations or prunings on held-out activations without
 * keeping them.
 */
export function quadraticError(
  weight: ArrayLike<number>,
  approximation: ArrayLike<number>,
  rows: number,
  columns: number,
  hessian: Float64Array,
): number {
  const k = columns;
  const delta = new Float64Array(k);
  const hd = new Float64Array(k);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < k; c++)
      delta[c] = (weight[r * k + c] as number) - (approximation[r * k + c] as number);
    hd.fill(0);
    for (let i = 0; i < k; i++) {
      const di = delta[i] as number;
      if (di === 0) continue;
      const hRow = i * k;
      for (let j = 0; j < k; j++) hd[j] = (hd[j] as number) + di * (hessian[hRow + j] as number);
    }
    for (let j = 0; j < k; j++) total += (hd[j] as number) * (delta[j] as number);
  }
  return total;
}
