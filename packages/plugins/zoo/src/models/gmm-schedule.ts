/** The beta schedules, by their diffusers `beta_schedule` names. */
export const BETA_SCHEDULES = ["linear", "scaled_linear", "squaredcos_cap_v2"] as const;
export type BetaSchedule = (typeof BETA_SCHEDULES)[number];

/**
 * A variance-preserving noise schedule: x_t = sqrt(ᾱ_t)·x_0 + sqrt(1 − ᾱ_t)·ε for the training
 * timesteps t = 0 … T−1. Values are float32, as diffusers' schedulers hold them, so the table in
 * the graph, the metadata and every TypeScript computation use the very same numbers.
 */
export interface NoiseSchedule {
  readonly betaSchedule: BetaSchedule;
  /** diffusers `num_train_timesteps` (T). */
  readonly numTrainTimesteps: number;
  /** diffusers `beta_start` / `beta_end`; the cosine schedule has none. */
  readonly betaStart?: number;
  readonly betaEnd?: number;
  readonly predictionType: "epsilon";
  readonly betas: readonly number[];
  /** ᾱ_t, indexed by the timestep. */
  readonly alphasCumprod: readonly number[];
}

/**
 * diffusers' schedules: `linear` is DDPM's (β from 1e-4 to 0.02), `scaled_linear` Stable
 * Diffusion's (√β linear from √0.00085 to √0.012), `squaredcos_cap_v2` the cosine schedule of
 * Nichol & Dhariwal (ᾱ(t) = cos²((t + 0.008)/1.008 · π/2), β capped at 0.999).
 */
export function noiseSchedule(
  betaSchedule: BetaSchedule,
  numTrainTimesteps: number,
): NoiseSchedule {
  const T = numTrainTimesteps;
  const linspace = (from: number, to: number) =>
    Array.from({ length: T }, (_, i) => from + ((to - from) * i) / (T - 1));
  let betas: number[];
  let range: { betaStart?: number; betaEnd?: number } = {};
  switch (betaSchedule) {
    case "linear":
      range = { betaStart: 0.0001, betaEnd: 0.02 };
      betas = linspace(0.0001, 0.02);
      break;
    case "scaled_linear":
      range = { betaStart: 0.00085, betaEnd: 0.012 };
      betas = linspace(Math.sqrt(0.00085), Math.sqrt(0.012)).map((b) => b * b);
      break;
    case "squaredcos_cap_v2": {
      const alphaBar = (t: number) => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
      betas = Array.from({ length: T }, (_, i) =>
        Math.min(1 - alphaBar((i + 1) / T) / alphaBar(i / T), 0.999),
      );
      break;
    }
  }
  const alphasCumprod: number[] = [];
  let product = 1;
  for (const beta of betas) {
    product *= 1 - beta;
    alphasCumprod.push(Math.fround(product));
  }
  return {
    betaSchedule,
    numTrainTimesteps: T,
    ...range,
    predictionType: "epsilon",
    betas: betas.map(Math.fround),
    alphasCumprod,
  };
}
