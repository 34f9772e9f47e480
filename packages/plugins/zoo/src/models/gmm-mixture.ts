import type { SeededRandom } from "@lathe/core";

export const COVARIANCES = ["diagonal", "isotropic"] as const;
/** `diagonal`: Σ_k = diag(s_k1², …, s_kd²); `isotropic`: Σ_k = s_k²·I. */
export type Covariance = (typeof COVARIANCES)[number];

/**
 * The data distribution p_0 = Σ_k π_k N(μ_k, Σ_k) with diagonal Σ_k. Values are float32 (the
 * graph's initializers hold exactly these numbers); rows are components.
 *
 * With `axes` (an orthonormal d×d matrix A, one axis a row), the means and variances are given
 * in the coordinates y = A·x: the data is x = Aᵀ·y with y drawn from the diagonal mixture, so the
 * covariances are Aᵀ·diag(v_k)·A. Data on a subspace has zero variance and zero mean in the
 * coordinates past the subspace's dimension (`subspace`).
 */
export interface GaussianMixture {
  readonly dim: number;
  readonly covariance: Covariance;
  /** π_k, summing to 1. */
  readonly weights: readonly number[];
  /** μ_k, K rows of `dim` (in the coordinates of `axes` when given). */
  readonly means: readonly (readonly number[])[];
  /** The diagonal of Σ_k, K rows of `dim` (equal within a row when isotropic; in `axes`' coordinates). */
  readonly variances: readonly (readonly number[])[];
  /** The rows a_i of the rotation y = A·x in which Σ_k is diagonal; absent: the identity. */
  readonly axes?: readonly (readonly number[])[];
  /** The data lies on span(a_0 … a_{subspace−1}): the first `subspace` coordinates carry it. */
  readonly subspace?: number;
}

/** Per-coordinate standard deviations are drawn in this range: modes narrower than their spacing. */
const STD_RANGE = [0.1, 0.3] as const;

/**
 * Draws a mixture from `rng`: means μ_kj ~ N(0, 1) (so the data has roughly unit scale, as
 * diffusion models assume), standard deviations uniform in [0.1, 0.3], weights ∝ U(0.5, 1.5).
 */
export function drawMixture(
  dim: number,
  components: number,
  covariance: Covariance,
  rng: SeededRandom,
): GaussianMixture {
  const raw = Array.from({ length: components }, () => 0.5 + rng.uniform());
  const total = raw.reduce((sum, w) => sum + w, 0);
  const weights = raw.map((w) => Math.fround(w / total));
  const means = Array.from({ length: components }, () =>
    Array.from({ length: dim }, () => Math.fround(rng.normal())),
  );
  const [lo, hi] = STD_RANGE;
  const drawVariance = () => Math.fround((lo + (hi - lo) * rng.uniform()) ** 2);
  const variances = Array.from({ length: components }, () => {
    if (covariance === "diagonal") return Array.from({ length: dim }, drawVariance);
    return Array<number>(dim).fill(drawVariance());
  });
  return { dim, covariance, weights, means, variances };
}

/**
 * Draws a mixture whose data lies on a random `subspace`-dimensional subspace through the origin
 * of ℝ^dim: a `drawMixture` in `subspace` dimensions (the same draws), then a random rotation A
 * (Gram–Schmidt of a Gaussian matrix, in float64, rounded to float32) whose first `subspace`
 * rows span the data. Means and variances are zero in the other dim − subspace coordinates.
 */
export function drawSubspaceMixture(
  dim: number,
  subspace: number,
  components: number,
  covariance: Covariance,
  rng: SeededRandom,
): GaussianMixture {
  const inner = drawMixture(subspace, components, covariance, rng);
  const pad = (row: readonly number[]) => [...row, ...Array<number>(dim - subspace).fill(0)];
  const axes: number[][] = [];
  for (let i = 0; i < dim; i++) {
    const row = Array.from({ length: dim }, () => rng.normal());
    for (const axis of axes) {
      const along = dot(row, axis);
      for (let j = 0; j < dim; j++) row[j] = (row[j] ?? 0) - along * (axis[j] ?? 0);
    }
    const norm = Math.sqrt(dot(row, row));
    axes.push(row.map((v) => v / norm));
  }
  return {
    ...inner,
    dim,
    means: inner.means.map(pad),
    variances: inner.variances.map(pad),
    axes: axes.map((row) => row.map(Math.fround)),
    subspace,
  };
}

/**
 * The points of `x` (row-major, rows × dim) in the mixture's own coordinates y = A·x (a copy of
 * `x` when the mixture has no `axes`).
 */
export function toMixtureCoordinates(mixture: GaussianMixture, x: ArrayLike<number>): Float64Array {
  const { dim, axes } = mixture;
  const out = Float64Array.from(x);
  if (!axes) return out;
  const rows = Math.floor(x.length / dim);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < dim; i++) {
      const axis = axes[i] ?? [];
      let sum = 0;
      for (let j = 0; j < dim; j++) sum += (axis[j] ?? 0) * (x[r * dim + j] ?? 0);
      out[r * dim + i] = sum;
    }
  }
  return out;
}

/** The inverse of `toMixtureCoordinates`: x = Aᵀ·y, in place. */
export function fromMixtureCoordinates(mixture: GaussianMixture, y: Float64Array): Float64Array {
  const { dim, axes } = mixture;
  if (!axes) return y;
  const rows = Math.floor(y.length / dim);
  const row = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    row.set(y.subarray(r * dim, (r + 1) * dim));
    for (let j = 0; j < dim; j++) {
      let sum = 0;
      for (let i = 0; i < dim; i++) sum += (axes[i]?.[j] ?? 0) * (row[i] ?? 0);
      y[r * dim + j] = sum;
    }
  }
  return y;
}

/**
 * log p_t(x) for the marginal at ᾱ: p_t = Σ_k π_k N(√ᾱ·μ_k, ᾱ·Σ_k + (1 − ᾱ)·I). With ᾱ = 1 this is
 * the data density log p_0(x). `x` holds one point of `dim` values. Data on a subspace has no
 * density in ℝ^dim at ᾱ = 1: there the coordinates without variance are left out, which gives the
 * density on the subspace of the point's projection onto it.
 */
export function marginalLogDensity(
  mixture: GaussianMixture,
  x: ArrayLike<number>,
  alphaBar = 1,
): number {
  const { dim, weights, means, variances } = mixture;
  const y = toMixtureCoordinates(
    mixture,
    Array.from({ length: dim }, (_, j) => x[j] ?? 0),
  );
  const scale = Math.sqrt(alphaBar);
  const logs = weights.map((weight, k) => {
    const mean = means[k] ?? [];
    const variance = variances[k] ?? [];
    let energy = 0;
    for (let j = 0; j < dim; j++) {
      const v = alphaBar * (variance[j] ?? 0) + (1 - alphaBar);
      if (v === 0) continue;
      const diff = (y[j] ?? 0) - scale * (mean[j] ?? 0);
      energy += (diff * diff) / v + Math.log(2 * Math.PI * v);
    }
    return Math.log(weight) - 0.5 * energy;
  });
  return logSumExp(logs);
}

/**
 * `count` exact draws from the marginal p_t at ᾱ (row-major, `count × dim`); ᾱ = 1 gives data
 * samples, and ᾱ_{T−1} the exact start of a sampler, which N(0, I) only approximates.
 */
export function sampleMarginal(
  mixture: GaussianMixture,
  count: number,
  rng: SeededRandom,
  alphaBar = 1,
): Float32Array {
  const { dim, weights, means, variances } = mixture;
  const scale = Math.sqrt(alphaBar);
  const noise = Math.sqrt(1 - alphaBar);
  const out = new Float64Array(count * dim);
  for (let i = 0; i < count; i++) {
    const k = pickComponent(weights, rng.uniform());
    const mean = means[k] ?? [];
    const variance = variances[k] ?? [];
    for (let j = 0; j < dim; j++) {
      const x0 = (mean[j] ?? 0) + Math.sqrt(variance[j] ?? 0) * rng.normal();
      out[i * dim + j] = scale * x0 + noise * rng.normal();
    }
  }
  // The noise is isotropic, so drawing it in the mixture's coordinates and rotating back is exact.
  return Float32Array.from(fromMixtureCoordinates(mixture, out));
}

function pickComponent(weights: readonly number[], u: number): number {
  let cumulative = 0;
  for (let k = 0; k < weights.length; k++) {
    cumulative += weights[k] ?? 0;
    if (u < cumulative) return k;
  }
  return weights.length - 1;
}

function dot(a: readonly number[], b: readonly number[]): number {
  let sum = 0;
  for (let j = 0; j < a.length; j++) sum += (a[j] ?? 0) * (b[j] ?? 0);
  return sum;
}

export function logSumExp(values: readonly number[]): number {
  const max = Math.max(...values);
  if (max === Number.NEGATIVE_INFINITY) return max;
  let sum = 0;
  for (const v of values) sum += Math.exp(v - max);
  return max + Math.log(sum);
}
