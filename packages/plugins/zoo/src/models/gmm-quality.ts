import { LatheError, SeededRandom } from "@lathe/core";
import { type GaussianMixture, marginalLogDensity, toMixtureCoordinates } from "./gmm-mixture.js";

/**
 * Mean log p_0(x) of samples (row-major, count × dim) under the true mixture. Exact, but it
 * rewards samples collapsed onto the modes; read it next to `slicedWasserstein`.
 */
export function meanLogLikelihood(mixture: GaussianMixture, samples: ArrayLike<number>): number {
  const { dim } = mixture;
  const count = rowCount(mixture, samples, "meanLogLikelihood");
  let total = 0;
  const point = new Float64Array(dim);
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < dim; j++) point[j] = samples[i * dim + j] ?? 0;
    total += marginalLogDensity(mixture, point);
  }
  return total / count;
}

export interface SlicedWassersteinOptions {
  /** Random directions (default 64). */
  readonly projections?: number;
  /** Seed of the directions (default 0): the same seed gives the same directions. */
  readonly seed?: number;
}

/**
 * Sliced 2-Wasserstein distance between the samples and the true mixture:
 * sqrt(mean over unit directions u of W₂²(uᵀx, uᵀp_0)). Each projection of the mixture is a 1-D
 * mixture with means uᵀμ_k and variances uᵀΣ_k u, so its quantiles are exact; sorted projected
 * samples are matched to the quantiles at levels (i + ½)/n. Exact samples score O(1/√n), not 0.
 * A mixture with `axes` is projected in its own coordinates, onto A·u.
 */
export function slicedWasserstein(
  mixture: GaussianMixture,
  samples: ArrayLike<number>,
  options: SlicedWassersteinOptions = {},
): number {
  const { dim, weights, means, variances } = mixture;
  const { projections = 64, seed = 0 } = options;
  const count = rowCount(mixture, samples, "slicedWasserstein");
  const rng = new SeededRandom(seed);
  const projected = new Float64Array(count);
  let total = 0;
  for (let p = 0; p < projections; p++) {
    const direction = unitVector(dim, rng);
    const along = toMixtureCoordinates(mixture, direction);
    const line: Mixture1d = {
      weights,
      means: means.map((mean) => dot(along, mean)),
      stds: variances.map((variance) =>
        Math.sqrt(variance.reduce((sum, v, j) => sum + v * (along[j] ?? 0) ** 2, 0)),
      ),
    };
    for (let i = 0; i < count; i++) {
      let sum = 0;
      for (let j = 0; j < dim; j++) sum += (direction[j] ?? 0) * (samples[i * dim + j] ?? 0);
      projected[i] = sum;
    }
    projected.sort();
    let squared = 0;
    let quantile = lowerBound(line);
    for (let i = 0; i < count; i++) {
      quantile = mixtureQuantile(line, (i + 0.5) / count, quantile);
      squared += ((projected[i] ?? 0) - quantile) ** 2;
    }
    total += squared / count;
  }
  return Math.sqrt(total / projections);
}

interface Mixture1d {
  readonly weights: readonly number[];
  readonly means: readonly number[];
  readonly stds: readonly number[];
}

/** Far enough below every component that the CDF there is ~0. */
function lowerBound({ means, stds }: Mixture1d): number {
  return Math.min(...means.map((m, k) => m - 12 * (stds[k] ?? 0)));
}

/** F⁻¹(level) by safeguarded Newton from `from` (a lower bound: levels come in increasing order). */
function mixtureQuantile(line: Mixture1d, level: number, from: number): number {
  let lo = from;
  let hi = Math.max(...line.means.map((m, k) => m + 12 * (line.stds[k] ?? 0)));
  let x = from;
  for (let iteration = 0; iteration < 100; iteration++) {
    const { cdf, pdf } = cdfAndPdf(line, x);
    const error = cdf - level;
    if (error < 0) lo = x;
    else hi = x;
    const newton = pdf > 0 ? x - error / pdf : Number.NaN;
    const nextX = newton > lo && newton < hi ? newton : 0.5 * (lo + hi);
    if (Math.abs(nextX - x) < 1e-12 * (1 + Math.abs(x))) return nextX;
    x = nextX;
  }
  return x;
}

function cdfAndPdf({ weights, means, stds }: Mixture1d, x: number): { cdf: number; pdf: number } {
  let cdf = 0;
  let pdf = 0;
  for (let k = 0; k < weights.length; k++) {
    const std = stds[k] ?? 1;
    const z = (x - (means[k] ?? 0)) / std;
    const weight = weights[k] ?? 0;
    cdf += weight * 0.5 * erfc(-z / Math.SQRT2);
    pdf += (weight * Math.exp(-0.5 * z * z)) / (std * Math.sqrt(2 * Math.PI));
  }
  return { cdf, pdf };
}

/** Complementary error function, relative error below 1.2e-7 (Chebyshev fit, Numerical Recipes). */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly =
    -1.26551223 +
    t *
      (1.00002368 +
        t *
          (0.37409196 +
            t *
              (0.09678418 +
                t *
                  (-0.18628806 +
                    t *
                      (0.27886807 +
                        t *
                          (-1.13520398 +
                            t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const value = t * Math.exp(-z * z + poly);
  return x >= 0 ? value : 2 - value;
}

function unitVector(dim: number, rng: SeededRandom): Float64Array {
  const v = Float64Array.from({ length: dim }, () => rng.normal());
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

function dot(a: ArrayLike<number>, b: readonly number[]): number {
  let sum = 0;
  for (let j = 0; j < b.length; j++) sum += (a[j] ?? 0) * (b[j] ?? 0);
  return sum;
}

function rowCount(mixture: GaussianMixture, samples: ArrayLike<number>, where: string): number {
  const count = samples.length / mixture.dim;
  if (!Number.isInteger(count) || count === 0) {
    throw new LatheError(
      "GMM_SAMPLES_INVALID",
      `${samples.length} values are not a whole number of ${mixture.dim}-dimensional samples`,
      { where, hint: "pass samples row-major, count × dim, with at least one row" },
    );
  }
  return count;
}
