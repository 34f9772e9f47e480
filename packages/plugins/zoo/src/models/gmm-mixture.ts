import type { SeededRandom } from "@lathe/core";

export const COVARIANCES = ["diagonal", "isotropic"] as const;
/** `diagonal`: Σ_k = diag(s_k1², …, s_kd²); `isotropic`: Σ_k = s_k²·I. */
export type Covariance = (typeof COVARIANCES)[number];

/**
 * The data distribution p_0 = Σ_k π_k N(μ_k, Σ_k) with diagonal Σ_k. Values are float32 (the
 * graph's initializers hold exactly these numbers); rows are components.
 */
export interface GaussianMixture {
  readonly dim: number;
  readonly covariance: Covariance;
  /** π_k, summing to 1. */
  readonly weights: readonly number[];
  /** μ_k, K rows of `dim`. */
  readonly means: readonly (readonly number[])[];
  /** The diagonal of Σ_k, K rows of `dim` (equal within a row when isotropic). */
  readonly variances: readonly (readonly number[])[];
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
 * log p_t(x) for the marginal at ᾱ: p_t = Σ_k π_k N(√ᾱ·μ_k, ᾱ·Σ_k + (1 − ᾱ)·I). With ᾱ = 1 this is
 * the data density log p_0(x). `x` holds one point of `dim` values.
 */
export function marginalLogDensity(
  mixture: GaussianMixture,
  x: ArrayLike<number>,
  alphaBar = 1,
): number {
  const { dim, weights, means, variances } = mixture;
  const scale = Math.sqrt(alphaBar);
  const logs = weights.map((weight, k) => {
    const mean = means[k] ?? [];
    const variance = variances[k] ?? [];
    let energy = 0;
    for (let j = 0; j < dim; j++) {
      const v = alphaBar * (variance[j] ?? 0) + (1 - alphaBar);
      const diff = (x[j] ?? 0) - scale * (mean[j] ?? 0);
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
  const out = new Float32Array(count * dim);
  for (let i = 0; i < count; i++) {
    const k = pickComponent(weights, rng.uniform());
    const mean = means[k] ?? [];
    const variance = variances[k] ?? [];
    for (let j = 0; j < dim; j++) {
      const x0 = (mean[j] ?? 0) + Math.sqrt(variance[j] ?? 0) * rng.normal();
      out[i * dim + j] = scale * x0 + noise * rng.normal();
    }
  }
  return out;
}

function pickComponent(weights: readonly number[], u: number): number {
  let cumulative = 0;
  for (let k = 0; k < weights.length; k++) {
    cumulative += weights[k] ?? 0;
    if (u < cumulative) return k;
  }
  return weights.length - 1;
}

export function logSumExp(values: readonly number[]): number {
  const max = Math.max(...values);
  if (max === Number.NEGATIVE_INFINITY) return max;
  let sum = 0;
  for (const v of values) sum += Math.exp(v - max);
  return max + Math.log(sum);
}
