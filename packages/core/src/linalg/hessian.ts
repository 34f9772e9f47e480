import { upperCholeskyOfInverseBlocked } from "./blocked.js";
import { upperCholeskyOfInverse } from "./cholesky.js";
import type { ActivationGram } from "./grams.js";
import type { MatrixProducts } from "./products.js";

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
  let damp = initialDamp(hessian, k, dampPercent);
  for (let attempt = 0; attempt < DAMP_ATTEMPTS; attempt++) {
    const u = upperCholeskyOfInverse(damped(hessian, k, damp), k);
    if (u) return u;
    damp = raise(damp);
  }
  throw notPositiveDefinite(k, damp);
}

/**
 * `dampedInverseCholesky` with the factor's large products on ONNX Runtime's float64 GEMM
 * (`products`; see `ortMatrixProducts`): the same U up to float64 rounding, an order of magnitude
 * faster at the sizes of a transformer's MLP (3072 inputs: 9.7 G multiply-adds in plain loops).
 */
export async function dampedInverseCholeskyBlocked(
  hessian: Float64Array,
  k: number,
  dampPercent: number,
  products: MatrixProducts,
): Promise<Float64Array> {
  let damp = initialDamp(hessian, k, dampPercent);
  for (let attempt = 0; attempt < DAMP_ATTEMPTS; attempt++) {
    const u = await upperCholeskyOfInverseBlocked(damped(hessian, k, damp), k, products);
    if (u) return u;
    damp = raise(damp);
  }
  throw notPositiveDefinite(k, damp);
}

const DAMP_ATTEMPTS = 6;

function initialDamp(hessian: Float64Array, k: number, dampPercent: number): number {
  let sum = 0;
  for (let c = 0; c < k; c++) sum += hessian[c * k + c] as number;
  return (dampPercent * sum) / k;
}

function damped(hessian: Float64Array, k: number, damp: number): Float64Array {
  const out = Float64Array.from(hessian);
  for (let c = 0; c < k; c++) out[c * k + c] = (out[c * k + c] as number) + damp;
  return out;
}

const raise = (damp: number) => (damp > 0 ? damp * 10 : 1e-6);

function notPositiveDefinite(k: number, damp: number): Error {
  return new Error(
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
