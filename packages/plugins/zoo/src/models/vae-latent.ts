import { SeededRandom } from "@lathe/core";
import type { VaeDims } from "./vae-config.js";
import { streamSeed } from "./vae-weights.js";

/**
 * Expected variance of one `conv_out` output under PyTorch's default init (Var w = 1/(3·fan_in))
 * when its inputs are SiLU of unit-variance GroupNorm outputs: E[silu(u)²] / 3 for u ~ N(0, 1).
 * It sets the scale of `quant_conv` so the latent's std comes out near 1 / scaling_factor.
 */
const CONV_OUT_VARIANCE = 0.35578 / 3;

/** The planted redundancy: which r directions of the C-channel latent carry the image. */
export interface LatentRedundancy {
  /** M, C × r with orthonormal columns (so M⁺ = Mᵀ), as C rows of r numbers. */
  readonly mixing: number[][];
  /**
   * Relative amplitude of each independent direction (Σ g² = C), halving the variance from one to
   * the next for isotropic features; real images' correlated features spread them further.
   */
  readonly gains: number[];
  /** `quant_conv` [2C, 2C, 1, 1]: mean rows M·A + noise·(I − MMᵀ)·B, then the logvar rows. */
  readonly quantWeight: Float32Array;
  readonly quantBias: Float32Array;
  /** `post_quant_conv` [C, C, 1, 1] = L·Mᵀ: the decoder reads the latent only through Mᵀ. */
  readonly postQuantWeight: Float32Array;
  readonly postQuantBias: Float32Array;
}

/**
 * Builds `quant_conv` and `post_quant_conv` so that, with f the `conv_out` features (2C per
 * pixel), the posterior mean is M·(A·f + a₀) + noise·(I − MMᵀ)·B·f: r independent channels
 * mixed into C, plus C − r minor directions at `noise` times their amplitude. The decoder's
 * `post_quant_conv` is L·Mᵀ, so it sees only Mᵀ·mean = A·f + a₀ and decodes from the
 * r-dimensional subspace; the minor directions do not reach it at all.
 */
export function plantRedundancy(dims: VaeDims, seed: number): LatentRedundancy {
  const { latentChannels: c, redundantRank: r, noise, scalingFactor } = dims;
  const rng = new SeededRandom(streamSeed(seed, "latent-redundancy"));
  const mixing = orthonormalColumns(c, r, rng);
  const gains = Array.from({ length: r }, (_, i) => 2 ** (-i / 2));
  const norm = Math.sqrt(c / gains.reduce((s, g) => s + g * g, 0));
  for (let i = 0; i < r; i++) gains[i] = (gains[i] as number) * norm;

  const features = 2 * c;
  const latentStd = 1 / scalingFactor;
  const rowStd = latentStd / Math.sqrt(features * CONV_OUT_VARIANCE);
  const major = Array.from({ length: r }, (_, i) =>
    rng.normals(features, rowStd * (gains[i] as number)),
  );
  const minor = Array.from({ length: c }, () => rng.normals(features, rowStd));
  const offsets = gains.map((g) => 0.25 * g * latentStd * rng.normal());

  const quantWeight = new Float32Array(features * features);
  const quantBias = new Float32Array(features);
  for (let row = 0; row < c; row++) {
    const m = mixing[row] as number[];
    for (let j = 0; j < features; j++) {
      let value = 0;
      for (let i = 0; i < r; i++)
        value += (m[i] as number) * ((major[i] as Float32Array)[j] as number);
      // noise · (I − MMᵀ)·B: the minor rows with their part along M removed
      for (let k = 0; k < c; k++) {
        const projector = (row === k ? 1 : 0) - dot(m, mixing[k] as number[]);
        value += noise * projector * ((minor[k] as Float32Array)[j] as number);
      }
      quantWeight[row * features + j] = value;
    }
    quantBias[row] = dot(m, offsets);
  }
  // logvar rows: default init around a posterior std at the noise level, so sampled latents
  // keep the redundancy (clamped like DiagonalGaussianDistribution does)
  const logvar = Math.max(-30, 2 * Math.log(noise * latentStd));
  const bound = 1 / Math.sqrt(features);
  const logvarWeights = rng.uniforms(c * features, -bound, bound);
  quantWeight.set(logvarWeights, c * features);
  for (let row = c; row < features; row++) quantBias[row] = logvar;

  // L·Mᵀ with L ~ N(0, 1/(3r)) has the entry variance of the default init, 1/(3C)
  const lift = Array.from({ length: c }, () => rng.normals(r, 1 / Math.sqrt(3 * r)));
  const postQuantWeight = new Float32Array(c * c);
  for (let row = 0; row < c; row++)
    for (let col = 0; col < c; col++)
      postQuantWeight[row * c + col] = dot(lift[row] as Float32Array, mixing[col] as number[]);
  const postQuantBias = rng.uniforms(c, -1 / Math.sqrt(c), 1 / Math.sqrt(c));

  return { mixing, gains, quantWeight, quantBias, postQuantWeight, postQuantBias };
}

/** C × r with orthonormal columns: Gram–Schmidt (twice, for float stability) on Gaussian columns. */
function orthonormalColumns(rows: number, cols: number, rng: SeededRandom): number[][] {
  const columns: number[][] = [];
  for (let j = 0; j < cols; j++) {
    const v = Array.from(rng.normals(rows), Number);
    for (let pass = 0; pass < 2; pass++) {
      for (const u of columns) {
        const projection = dot(u, v);
        for (let i = 0; i < rows; i++) v[i] = (v[i] as number) - projection * (u[i] as number);
      }
    }
    const length = Math.sqrt(dot(v, v));
    columns.push(v.map((x) => x / length));
  }
  return Array.from({ length: rows }, (_, i) => columns.map((column) => column[i] as number));
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] as number) * (b[i] as number);
  return sum;
}
