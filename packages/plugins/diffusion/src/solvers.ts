import { lambda, sigmaHat, type TimePoint } from "./noise.js";

/** The solvers, by their usual names. */
export type Solver = "ddim" | "dpmpp-2m" | "ipndm";
export const SOLVERS: readonly Solver[] = ["ddim", "dpmpp-2m", "ipndm"];

/** One term of a linear combination: `weight` times the state x_index or the denoised D_index. */
export interface Term {
  readonly of: "x" | "d";
  readonly index: number;
  readonly weight: number;
}

/**
 * Step i of a sampler, from points[i] to points[i+1], as linear algebra on what came before:
 *
 *   x_{i+1} = Σ keep + c_i · Σ update
 *
 * where D_i is the denoiser's x₀-prediction at (x_i, points[i]) and c_i = 1 unless coefficients
 * were learned. Every solver here is linear in past states and predictions, so the TypeScript
 * loop and the exported ONNX sampler run the very same numbers.
 */
export interface StepPlan {
  readonly from: TimePoint;
  readonly to: TimePoint;
  readonly keep: readonly Term[];
  readonly update: readonly Term[];
}

/**
 * The plan of `solver` over `points` (noisiest first, ending at the clean point σ = 0): one
 * denoiser call per step.
 *
 * - ddim: DDIM with η = 0, the first-order exponential integrator
 *   x_t = (σ_t/σ_s)·x_s + α_t(1 − e^{−h})·D_s, h = λ_t − λ_s.
 * - dpmpp-2m: DPM-Solver++(2M) (Lu et al. 2022, k-diffusion's sample_dpmpp_2m): the same step with
 *   D̃ = (1 + 1/2r)·D_i − (1/2r)·D_{i−1}, r = h_{i−1}/h_i; first order on the first step and on
 *   the step to σ = 0.
 * - ipndm: improved PNDM (Zhang & Chen 2023), Adams–Bashforth of order up to 4 on
 *   dx̂/dσ̂ = (x̂ − D)/σ̂ in the VE variables x̂ = x/α, σ̂ = σ/α, lower orders while warming up.
 */
export function planSolver(solver: Solver, points: readonly TimePoint[]): StepPlan[] {
  const plan: StepPlan[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const from = points[i] as TimePoint;
    const to = points[i + 1] as TimePoint;
    switch (solver) {
      case "ddim":
        plan.push(exponentialStep(from, to, i, [{ index: i, weight: 1 }]));
        break;
      case "dpmpp-2m": {
        const previous = points[i - 1];
        if (!previous || to.sigma === 0) {
          plan.push(exponentialStep(from, to, i, [{ index: i, weight: 1 }]));
          break;
        }
        const r = (lambda(from) - lambda(previous)) / (lambda(to) - lambda(from));
        plan.push(
          exponentialStep(from, to, i, [
            { index: i, weight: 1 + 1 / (2 * r) },
            { index: i - 1, weight: -1 / (2 * r) },
          ]),
        );
        break;
      }
      case "ipndm":
        plan.push(ipndmStep(points, i));
        break;
    }
  }
  return plan;
}

function exponentialStep(
  from: TimePoint,
  to: TimePoint,
  i: number,
  denoised: readonly { index: number; weight: number }[],
): StepPlan {
  // (σ_t/σ_s)·x_s + α_t(1 − e^{−h})·D̃ with e^{−h} = σ_t·α_s/(α_t·σ_s); at σ_t = 0: α_t·D̃.
  const ratio = to.sigma / from.sigma;
  const gain = to.alpha - (to.sigma * from.alpha) / from.sigma;
  return {
    from,
    to,
    keep: ratio === 0 ? [] : [{ of: "x", index: i, weight: ratio }],
    update: denoised.map((d) => ({ of: "d", index: d.index, weight: gain * d.weight })),
  };
}

/** Adams–Bashforth weights, newest derivative first (iPNDM's warm start uses the lower orders). */
const ADAMS_BASHFORTH: readonly (readonly number[])[] = [
  [1],
  [3 / 2, -1 / 2],
  [23 / 12, -16 / 12, 5 / 12],
  [55 / 24, -59 / 24, 37 / 24, -9 / 24],
];

function ipndmStep(points: readonly TimePoint[], i: number): StepPlan {
  const from = points[i] as TimePoint;
  const to = points[i + 1] as TimePoint;
  const weights = ADAMS_BASHFORTH[Math.min(i, 3)] as readonly number[];
  const step = sigmaHat(to) - sigmaHat(from);
  // x_{i+1} = α_{i+1}·(x̂_i + Δσ̂·Σ w_k·d_{i−k}), d_j = (x_j/α_j − D_j)/σ̂_j.
  const update: Term[] = [];
  weights.forEach((w, k) => {
    const j = i - k;
    const at = points[j] as TimePoint;
    const scale = (to.alpha * step * w) / sigmaHat(at);
    update.push({ of: "x", index: j, weight: scale / at.alpha });
    update.push({ of: "d", index: j, weight: -scale });
  });
  return { from, to, keep: [{ of: "x", index: i, weight: to.alpha / from.alpha }], update };
}

/** Returns the x₀-prediction D(x, point) for a batch laid out as `x`. */
export type Denoise = (x: Float64Array, point: TimePoint) => Promise<Float64Array>;

export interface PlanRun {
  /** The state after every step: states[0] is the start, states[K] the sample. */
  readonly states: Float64Array[];
  readonly denoised: Float64Array[];
}

/** Runs a plan from `start` in float64; `coefficients[i]` scales step i's update (default 1). */
export async function runPlan(
  plan: readonly StepPlan[],
  start: Float64Array,
  denoise: Denoise,
  coefficients?: readonly number[],
): Promise<PlanRun> {
  const states = [start];
  const denoised: Float64Array[] = [];
  for (let i = 0; i < plan.length; i++) {
    const step = plan[i] as StepPlan;
    denoised.push(await denoise(states[i] as Float64Array, step.from));
    const keep = combine(step.keep, states, denoised, start.length);
    const update = combine(step.update, states, denoised, start.length);
    const c = coefficients?.[i] ?? 1;
    for (let j = 0; j < keep.length; j++) keep[j] = (keep[j] ?? 0) + c * (update[j] ?? 0);
    states.push(keep);
  }
  return { states, denoised };
}

export function combine(
  terms: readonly Term[],
  states: readonly Float64Array[],
  denoised: readonly Float64Array[],
  size: number,
): Float64Array {
  const out = new Float64Array(size);
  for (const term of terms) {
    const source = (term.of === "x" ? states : denoised)[term.index] as Float64Array;
    for (let j = 0; j < size; j++) out[j] = (out[j] ?? 0) + term.weight * (source[j] ?? 0);
  }
  return out;
}

/** Root mean square of a − b over all entries. */
export function rmse(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += ((a[i] ?? 0) - (b[i] ?? 0)) ** 2;
  return Math.sqrt(sum / Math.max(a.length, 1));
}
