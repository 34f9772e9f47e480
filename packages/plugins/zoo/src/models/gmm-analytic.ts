import {
  fromMixtureCoordinates,
  type GaussianMixture,
  logSumExp,
  toMixtureCoordinates,
} from "./gmm-mixture.js";

/**
 * The exact ε-prediction ε̂(x_t, t) = −sqrt(1 − ᾱ)·∇ log p_t(x_t), in float64, for the rows of
 * `samples` (row-major, rows × dim) at the ᾱ of each row. With v_kj = ᾱ·σ_kj² + (1 − ᾱ):
 *
 *   w = softmax_k( log π_k − ½ Σ_j [ (x_j − √ᾱ μ_kj)² / v_kj + log v_kj ] )
 *   ε̂_j = sqrt(1 − ᾱ) · Σ_k w_k (x_j − √ᾱ μ_kj) / v_kj
 *
 * A mixture with `axes` is computed in its coordinates: ε̂(x) = Aᵀ·ε̂_y(A·x).
 * This is what the zoo's gmm-diffusion graph computes; tests hold the graph to it.
 */
export function exactNoisePrediction(
  mixture: GaussianMixture,
  samples: ArrayLike<number>,
  alphaBars: readonly number[],
): Float64Array {
  const { dim, weights, means, variances } = mixture;
  const rows = alphaBars.length;
  const points = toMixtureCoordinates(mixture, samples);
  const out = new Float64Array(rows * dim);
  const scaled = weights.map(() => new Float64Array(dim));
  for (let row = 0; row < rows; row++) {
    const alphaBar = alphaBars[row] ?? 0;
    const scale = Math.sqrt(alphaBar);
    const logits = weights.map((weight, k) => {
      const mean = means[k] ?? [];
      const variance = variances[k] ?? [];
      const scaledRow = scaled[k] ?? new Float64Array(dim);
      let energy = 0;
      for (let j = 0; j < dim; j++) {
        const v = alphaBar * (variance[j] ?? 0) + (1 - alphaBar);
        const diff = (points[row * dim + j] ?? 0) - scale * (mean[j] ?? 0);
        const ratio = diff / v;
        scaledRow[j] = ratio;
        energy += diff * ratio + Math.log(v);
      }
      return Math.log(weight) - 0.5 * energy;
    });
    const normalizer = logSumExp(logits);
    const sigma = Math.sqrt(1 - alphaBar);
    for (let k = 0; k < weights.length; k++) {
      const w = Math.exp((logits[k] ?? 0) - normalizer);
      const scaledRow = scaled[k] ?? new Float64Array(dim);
      for (let j = 0; j < dim; j++) {
        out[row * dim + j] = (out[row * dim + j] ?? 0) + sigma * w * (scaledRow[j] ?? 0);
      }
    }
  }
  return fromMixtureCoordinates(mixture, out);
}
