import { CLEAN, type NoiseModel, sigmaHat, type TimePoint } from "./noise.js";

/** Hand-designed step schedules, the baselines a learned schedule is measured against. */
export type Baseline = "uniform-t" | "edm" | "logsnr" | "kl-optimal";
export const BASELINES: readonly Baseline[] = ["uniform-t", "edm", "logsnr", "kl-optimal"];

/**
 * K evaluation points, noisiest first, followed by the clean point: K denoiser calls.
 *
 * - uniform-t: equal steps in t from t_max (diffusers' "trailing" spacing for discrete models);
 * - edm: Karras et al.'s ρ = 7 spacing of σ̂ between σ̂_max and σ̂_min;
 * - logsnr: equal steps in log σ̂ (DPM-Solver's recommendation);
 * - kl-optimal: AYS's closed form for Gaussian data, σ̂_i = tan((1 − i/(K−1))·atan σ̂_max + i/(K−1)·atan σ̂_min).
 *
 * Discrete-time models snap every point to the nearest training timestep; duplicates that
 * snapping creates at the low-noise end are nudged apart so that K calls remain.
 */
export function baselineSchedule(kind: Baseline, noise: NoiseModel, steps: number): TimePoint[] {
  if (!Number.isInteger(steps) || steps < 1)
    throw new RangeError(`steps must be a positive integer, got ${steps}`);
  const max = sigmaHat(noise.point(noise.tMax));
  const min = sigmaHat(noise.point(noise.tMin));
  const fraction = (i: number) => (steps === 1 ? 0 : i / (steps - 1));
  let times: number[];
  switch (kind) {
    case "uniform-t":
      times = noise.discrete
        ? Array.from(
            { length: steps },
            (_, i) => Math.round(noise.tMax + 1 - (i * (noise.tMax + 1)) / steps) - 1,
          )
        : Array.from(
            { length: steps },
            (_, i) => noise.tMax - ((noise.tMax - noise.tMin) * i) / steps,
          );
      break;
    case "edm": {
      const rho = 7;
      times = Array.from({ length: steps }, (_, i) =>
        noise.timeForSigma(
          (max ** (1 / rho) + fraction(i) * (min ** (1 / rho) - max ** (1 / rho))) ** rho,
        ),
      );
      break;
    }
    case "logsnr":
      times = Array.from({ length: steps }, (_, i) =>
        noise.timeForSigma(Math.exp(Math.log(max) + fraction(i) * (Math.log(min) - Math.log(max)))),
      );
      break;
    case "kl-optimal":
      times = Array.from({ length: steps }, (_, i) =>
        noise.timeForSigma(
          Math.tan((1 - fraction(i)) * Math.atan(max) + fraction(i) * Math.atan(min)),
        ),
      );
      break;
  }
  return [...pointsAt(noise, times), CLEAN];
}

/**
 * Points at decreasing times; for a discrete model, snapped to distinct timesteps (a later
 * point that lands on or above its predecessor moves one timestep below it).
 */
export function pointsAt(noise: NoiseModel, times: readonly number[]): TimePoint[] {
  if (!noise.discrete) return times.map((t) => noise.point(t));
  const snapped: number[] = [];
  for (const t of times) {
    const previous = snapped[snapped.length - 1];
    let s = Math.round(t);
    if (previous !== undefined && s >= previous) s = previous - 1;
    snapped.push(Math.max(s, noise.tMin));
  }
  return dedupe(snapped).map((t) => noise.point(t));
}

function dedupe(times: number[]): number[] {
  return times.filter((t, i) => i === 0 || t < (times[i - 1] as number));
}

/**
 * The teacher's fine grid: `size` distinct times, uniform in log σ̂ (snapped and deduplicated
 * for discrete models), noisiest first, without the clean point.
 */
export function teacherGrid(noise: NoiseModel, size: number): TimePoint[] {
  const max = sigmaHat(noise.point(noise.tMax));
  const min = sigmaHat(noise.point(noise.tMin));
  const times = Array.from({ length: size }, (_, i) =>
    noise.timeForSigma(
      Math.exp(Math.log(max) + (i / (size - 1)) * (Math.log(min) - Math.log(max))),
    ),
  );
  if (!noise.discrete) return times.map((t) => noise.point(t));
  return dedupe(times.map((t) => Math.round(t))).map((t) => noise.point(t));
}
