import type { ModelBundle } from "@lathe/core";

/**
 * A bundle whose diffusion runs in k reduced channels of its data (`latent/pca-channels` with
 * `denoiser` on a bundle without a VAE): the uncentered basis U_k (C×k, orthonormal columns,
 * row-major) that takes the k coordinates back to the data, x = U_k·z′.
 */
export interface ReducedSpace {
  readonly channels: number;
  readonly k: number;
  readonly basis: Float64Array;
}

/**
 * The reduced space recorded in `metadata.latentPca`, when the samples are its k coordinates of
 * data rather than latents a VAE decodes (`dataSpace`; a bundle from before that field counts
 * as data space when it has no `vae_decoder`). A centered basis cannot be lifted this way.
 */
export function reducedSpace(bundle: ModelBundle): ReducedSpace | undefined {
  const pca = (bundle.metadata as Record<string, unknown>).latentPca as
    | { basis?: unknown; k?: unknown; centered?: unknown; dataSpace?: unknown }
    | undefined;
  if (pca?.centered !== false || !Array.isArray(pca.basis)) return undefined;
  const dataSpace =
    typeof pca.dataSpace === "boolean" ? pca.dataSpace : !bundle.components.has("vae_decoder");
  const rows = pca.basis as unknown[];
  const k = pca.k;
  if (!dataSpace || typeof k !== "number" || rows.length === 0) return undefined;
  if (!rows.every((r) => Array.isArray(r) && r.length === k)) return undefined;
  return {
    channels: rows.length,
    k,
    basis: Float64Array.from((rows as number[][]).flat()),
  };
}

/** z = U_kᵀ·x for each position of each sample (channels at axis 1 of [n, C, …]). */
export function projectChannels(
  x: ArrayLike<number>,
  space: ReducedSpace,
  rows: number,
  plane = 1,
): Float64Array {
  const { channels: c, k, basis } = space;
  const out = new Float64Array(rows * k * plane);
  for (let b = 0; b < rows; b++)
    for (let p = 0; p < plane; p++)
      for (let i = 0; i < k; i++) {
        let v = 0;
        for (let j = 0; j < c; j++)
          v += (basis[j * k + i] ?? 0) * (x[(b * c + j) * plane + p] ?? 0);
        out[(b * k + i) * plane + p] = v;
      }
  return out;
}

/** x = U_k·z′ for each position of each sample (channels at axis 1 of [n, k, …]). */
export function liftChannels(
  z: ArrayLike<number>,
  space: ReducedSpace,
  rows: number,
  plane = 1,
): Float32Array {
  const { channels: c, k, basis } = space;
  const out = new Float32Array(rows * c * plane);
  for (let b = 0; b < rows; b++)
    for (let p = 0; p < plane; p++)
      for (let j = 0; j < c; j++) {
        let v = 0;
        for (let i = 0; i < k; i++)
          v += (basis[j * k + i] ?? 0) * (z[(b * k + i) * plane + p] ?? 0);
        out[(b * c + j) * plane + p] = v;
      }
  return out;
}
