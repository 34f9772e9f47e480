import type { SeededRandom } from "@lathe/core";
import { LatheError } from "@lathe/core";

/**
 * One call of an ε-predicting model: `sample` is row-major (batch × dim), `timesteps` holds one
 * training timestep per row (as a diffusers pipeline expands it to the batch). Returns ε̂ in the
 * layout of `sample`. An ONNX session, or the analytic formula, fits behind it.
 */
export type Denoiser = (sample: Float32Array, timesteps: number[]) => Promise<Float32Array>;

/** diffusers' `timestep_spacing` choices. */
export type TimestepSpacing = "leading" | "trailing" | "linspace";

export interface SamplerOptions {
  readonly batch: number;
  readonly dim: number;
  /** 0 (default): deterministic DDIM; 1: the stochastic DDPM-like sampler of the DDIM paper. */
  readonly eta?: number;
  /** Default `trailing`, which starts at t = T − 1 where x_T ≈ N(0, I) holds. */
  readonly spacing?: TimestepSpacing;
  /** The starting x_T (batch × dim); default N(0, I) drawn from `rng`. */
  readonly initial?: Float32Array;
}

/**
 * The `steps` timesteps a sampler visits, in decreasing order, as diffusers' DDIMScheduler
 * chooses them (`steps_offset` 0).
 */
export function inferenceTimesteps(
  numTrainTimesteps: number,
  steps: number,
  spacing: TimestepSpacing = "trailing",
): number[] {
  const T = numTrainTimesteps;
  if (!Number.isInteger(steps) || steps < 1 || steps > T) {
    throw new LatheError("SAMPLER_INVALID", `${steps} sampling steps for a ${T}-step schedule`, {
      where: "gmm sampler",
      hint: `pass an integer number of steps from 1 to ${T}`,
    });
  }
  const indices = Array.from({ length: steps }, (_, i) => i);
  switch (spacing) {
    case "leading":
      return indices.map((i) => i * Math.floor(T / steps)).reverse();
    case "trailing":
      return indices.map((i) => roundHalfEven(T - (i * T) / steps) - 1);
    case "linspace":
      return indices.map((i) => roundHalfEven(((T - 1) * i) / Math.max(steps - 1, 1))).reverse();
  }
}

/** numpy's `round`, which diffusers uses for the spacings: halves go to the even neighbour. */
function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction !== 0.5) return Math.round(value);
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * DDIM (Song et al. 2021) over an ε-predicting denoiser, as diffusers' DDIMScheduler runs it
 * with `clip_sample=False` and `set_alpha_to_one=True`: each step predicts x̂_0 from ε̂ and moves
 * to the next visited timestep; the last step lands on ᾱ = 1 and returns x̂_0.
 */
export async function sampleDdim(
  denoise: Denoiser,
  schedule: { readonly alphasCumprod: readonly number[] },
  steps: number,
  rng: SeededRandom,
  options: SamplerOptions,
): Promise<Float32Array> {
  const { batch, dim, eta = 0, spacing = "trailing" } = options;
  const size = batch * dim;
  const timesteps = inferenceTimesteps(schedule.alphasCumprod.length, steps, spacing);
  if (options.initial && options.initial.length !== size) {
    throw new LatheError(
      "SAMPLER_INVALID",
      `the initial sample has ${options.initial.length} values, expected batch × dim = ${size}`,
      { where: "gmm sampler" },
    );
  }
  const x = Float64Array.from(options.initial ?? Array.from({ length: size }, () => rng.normal()));
  for (let s = 0; s < timesteps.length; s++) {
    const t = timesteps[s] ?? 0;
    const next = timesteps[s + 1];
    const alphaBar = schedule.alphasCumprod[t] ?? 1;
    const alphaBarNext = next === undefined ? 1 : (schedule.alphasCumprod[next] ?? 1);
    const epsilon = await denoise(Float32Array.from(x), Array<number>(batch).fill(t));
    if (epsilon.length !== size) {
      throw new LatheError(
        "SAMPLER_INVALID",
        `the denoiser returned ${epsilon.length} values at timestep ${t}, expected batch × dim = ${size}`,
        { where: "gmm sampler", hint: "return ε̂ in the layout of the sample it was given" },
      );
    }
    const variance =
      eta === 0
        ? 0
        : eta ** 2 * ((1 - alphaBarNext) / (1 - alphaBar)) * (1 - alphaBar / alphaBarNext);
    const direction = Math.sqrt(Math.max(1 - alphaBarNext - variance, 0));
    for (let i = 0; i < size; i++) {
      const eps = epsilon[i] ?? 0;
      const x0 = ((x[i] ?? 0) - Math.sqrt(1 - alphaBar) * eps) / Math.sqrt(alphaBar);
      const noise = variance === 0 ? 0 : Math.sqrt(variance) * rng.normal();
      x[i] = Math.sqrt(alphaBarNext) * x0 + direction * eps + noise;
    }
  }
  return Float32Array.from(x);
}
