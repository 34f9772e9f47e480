/**
 * Noise schedules as the solvers see them. Every schedule is written x_t = α_t·x_0 + σ_t·ε; the
 * solvers work with (α, σ) and the "VE sigma" σ̂ = σ/α, which grows monotonically with t, so one
 * solver serves VP (discrete and continuous) and VE/EDM models alike.
 */

/** Where a denoiser is evaluated: the model's timestep input `t` and the schedule there. */
export interface TimePoint {
  /** What the model's timestep input receives (an integer for discrete-time models). */
  readonly t: number;
  readonly alpha: number;
  readonly sigma: number;
}

/** The clean end of every trajectory (σ = 0); the denoiser is never evaluated there. */
export const CLEAN: TimePoint = { t: -1, alpha: 1, sigma: 0 };

export type ScheduleKind = "vp-discrete" | "vp-continuous" | "ve";

export interface NoiseModel {
  readonly kind: ScheduleKind;
  /** Discrete-time models take integer timesteps only (Stable Diffusion's UNet, diffusers). */
  readonly discrete: boolean;
  /** The noisiest and the least noisy time the model was trained on. */
  readonly tMax: number;
  readonly tMin: number;
  point(t: number): TimePoint;
  /** The time whose σ̂ is `sigmaHat` (rounded to the nearest timestep, in log σ̂, when discrete). */
  timeForSigma(sigmaHat: number): number;
}

export function sigmaHat(point: TimePoint): number {
  return point.sigma / point.alpha;
}

/** log(α/σ): the half log-SNR the exponential-form solvers step in (∞ at the clean end). */
export function lambda(point: TimePoint): number {
  return Math.log(point.alpha / point.sigma);
}

/** diffusers' DDPMScheduler/DDIMScheduler with `num_train_timesteps` T: ᾱ indexed by t. */
export function discreteVp(alphasCumprod: readonly number[]): NoiseModel {
  const T = alphasCumprod.length;
  const logSigmas = alphasCumprod.map((a) => Math.log(Math.sqrt((1 - a) / a)));
  const point = (t: number): TimePoint => {
    const index = Math.min(Math.max(Math.round(t), 0), T - 1);
    const alphaBar = alphasCumprod[index] ?? 1;
    return { t: index, alpha: Math.sqrt(alphaBar), sigma: Math.sqrt(1 - alphaBar) };
  };
  return {
    kind: "vp-discrete",
    discrete: true,
    tMax: T - 1,
    tMin: 0,
    point,
    timeForSigma(s) {
      const target = Math.log(s);
      let lo = 0;
      let hi = T - 1;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if ((logSigmas[mid] ?? 0) < target) lo = mid;
        else hi = mid;
      }
      const below = Math.abs(target - (logSigmas[lo] ?? 0));
      const above = Math.abs((logSigmas[hi] ?? 0) - target);
      return below <= above ? lo : hi;
    },
  };
}

/** Song et al.'s continuous VP-SDE: ᾱ(t) = exp(−½t²(β_max − β_min) − t·β_min), t in [tMin, 1]. */
export function continuousVp(betaMin: number, betaMax: number, tMin = 1e-3): NoiseModel {
  const delta = betaMax - betaMin;
  const point = (t: number): TimePoint => {
    const alphaBar = Math.exp(-0.5 * t * t * delta - t * betaMin);
    return { t, alpha: Math.sqrt(alphaBar), sigma: Math.sqrt(1 - alphaBar) };
  };
  return {
    kind: "vp-continuous",
    discrete: false,
    tMax: 1,
    tMin,
    point,
    timeForSigma(s) {
      // ᾱ = 1/(1 + σ̂²): solve ½Δt² + β_min·t − log(1 + σ̂²) = 0 for t ≥ 0.
      const c = Math.log1p(s * s);
      const t =
        delta === 0 ? c / betaMin : (-betaMin + Math.sqrt(betaMin ** 2 + 2 * delta * c)) / delta;
      return Math.min(Math.max(t, tMin), 1);
    },
  };
}

/** Variance exploding (EDM): α = 1, σ = t in [σ_min, σ_max]; the model's timestep input is σ. */
export function varianceExploding(sigmaMin: number, sigmaMax: number): NoiseModel {
  return {
    kind: "ve",
    discrete: false,
    tMax: sigmaMax,
    tMin: sigmaMin,
    point: (t) => ({ t, alpha: 1, sigma: t }),
    timeForSigma: (s) => Math.min(Math.max(s, sigmaMin), sigmaMax),
  };
}

/** The diffusers beta schedules (`beta_schedule`), ᾱ held as float32 as diffusers holds it. */
export const BETA_SCHEDULES = ["linear", "scaled_linear", "squaredcos_cap_v2"] as const;
export type BetaSchedule = (typeof BETA_SCHEDULES)[number];

export function alphasCumprodFor(
  schedule: BetaSchedule,
  steps: number,
  betaStart = 0.0001,
  betaEnd = 0.02,
): number[] {
  const linspace = (from: number, to: number) =>
    Array.from({ length: steps }, (_, i) => from + ((to - from) * i) / (steps - 1));
  let betas: number[];
  switch (schedule) {
    case "linear":
      betas = linspace(betaStart, betaEnd);
      break;
    case "scaled_linear":
      betas = linspace(Math.sqrt(betaStart), Math.sqrt(betaEnd)).map((b) => b * b);
      break;
    case "squaredcos_cap_v2": {
      const alphaBar = (t: number) => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
      betas = Array.from({ length: steps }, (_, i) =>
        Math.min(1 - alphaBar((i + 1) / steps) / alphaBar(i / steps), 0.999),
      );
      break;
    }
  }
  const out: number[] = [];
  let product = 1;
  for (const beta of betas) {
    product *= 1 - beta;
    out.push(Math.fround(product));
  }
  return out;
}
