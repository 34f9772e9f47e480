import { createPassRandom } from "@lathe/core";
import type { Denoise, NoiseModel, TimePoint } from "../src/index.js";

/** Data N(μ, s²) per coordinate: the exact denoiser and the exact probability-flow endpoint. */
export interface Gaussian {
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

export function gaussianDenoiser(g: Gaussian): Denoise {
  const d = g.mean.length;
  return async (x, { alpha, sigma }) =>
    Float64Array.from(x, (xi, i) => {
      const m = g.mean[i % d] ?? 0;
      const s2 = (g.std[i % d] ?? 1) ** 2;
      return m + ((alpha * s2) / (alpha * alpha * s2 + sigma * sigma)) * (xi - alpha * m);
    });
}

/**
 * The probability-flow ODE keeps z = (x − αμ)/sqrt(α²s² + σ²) fixed along a trajectory, so the
 * clean endpoint from x at `start` is μ + s·z.
 */
export function exactEndpoint(g: Gaussian, x: Float64Array, start: TimePoint): Float64Array {
  const d = g.mean.length;
  const { alpha, sigma } = start;
  return Float64Array.from(x, (xi, i) => {
    const m = g.mean[i % d] ?? 0;
    const s = g.std[i % d] ?? 1;
    return m + (s * (xi - alpha * m)) / Math.sqrt(alpha * alpha * s * s + sigma * sigma);
  });
}

export function normals(count: number, seed = 1): Float64Array {
  const random = createPassRandom(seed, "test", "normals");
  return Float64Array.from({ length: count }, () => random.normal());
}

export function startOf(noise: NoiseModel): TimePoint {
  return noise.point(noise.tMax);
}
