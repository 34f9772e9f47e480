import { CLEAN, type NoiseModel, sigmaHat, type TimePoint } from "./noise.js";
import { pointsAt } from "./schedules.js";
import {
  combine,
  type Denoise,
  planSolver,
  runPlan,
  type Solver,
  type StepPlan,
} from "./solvers.js";

/** Which rows of the batch a measurement reads: the training or the validation split. */
export interface Rows {
  readonly start: number;
  readonly end: number;
  /** Values per row (one sample's size). */
  readonly width: number;
}

/** Root mean square of a − b over the given rows. */
export function rowsRmse(a: Float64Array, b: Float64Array, rows: Rows): number {
  let sum = 0;
  for (let i = rows.start * rows.width; i < rows.end * rows.width; i++) {
    sum += ((a[i] ?? 0) - (b[i] ?? 0)) ** 2;
  }
  return Math.sqrt(sum / Math.max((rows.end - rows.start) * rows.width, 1));
}

/** The teacher's solution on its fine grid: states[i] at grid[i]; the last grid point is clean. */
export interface Teacher {
  readonly grid: readonly TimePoint[];
  readonly states: readonly Float64Array[];
  readonly denoised: readonly Float64Array[];
}

export async function solveTeacher(
  denoise: Denoise,
  grid: readonly TimePoint[],
  start: Float64Array,
  solver: Solver,
): Promise<Teacher> {
  const points = [...grid, CLEAN];
  const run = await runPlan(planSolver(solver, points), start, denoise);
  return { grid: points, states: run.states, denoised: run.denoised };
}

/** A learned schedule: indices into the teacher grid (first 0, last the clean point). */
export interface GridPath {
  readonly indices: readonly number[];
  /** The objective the search minimized (lower is better). */
  readonly cost: number;
}

/**
 * GITS (Chen et al., ICML 2024): the cost of one DDIM step from teacher state i to grid point j
 * against the teacher's own state there, c[i][j] (no denoiser calls: the teacher's D_i is
 * stored), and dynamic programming for the K-step path of least weighted cost. Step k's cost
 * counts `weight`^(k−1) times, so that errors made close to the data (which nothing corrects
 * afterwards) weigh more, as GITS's coefficient 1.15 does.
 */
export function gitsPath(teacher: Teacher, steps: number, rows: Rows, weight = 1.15): GridPath {
  const n = teacher.grid.length - 1;
  const cost = gitsCosts(teacher, rows);
  return cheapestPath(n, steps, (k, i, j) => weight ** (k - 1) * (cost[i]?.[j] ?? Infinity));
}

/** c[i][j] for i < j: RMSE of one DDIM step from teacher state i to grid j against state j. */
export function gitsCosts(teacher: Teacher, rows: Rows): number[][] {
  const n = teacher.grid.length - 1;
  const cost: number[][] = [];
  for (let i = 0; i < n; i++) {
    const row: number[] = [];
    for (let j = 0; j <= n; j++) {
      if (j <= i) {
        row.push(Infinity);
        continue;
      }
      const [step] = planSolver("ddim", [
        teacher.grid[i] as TimePoint,
        teacher.grid[j] as TimePoint,
      ]);
      // The one-step plan numbers its operands from 0: the teacher's state and D at point i.
      const state = teacher.states[i] as Float64Array;
      const next = applyStep(
        step as StepPlan,
        [state],
        [teacher.denoised[i] as Float64Array],
        state.length,
      );
      row.push(rowsRmse(next, teacher.states[j] as Float64Array, rows));
    }
    cost.push(row);
  }
  return cost;
}

/**
 * The K-step path 0 → n over grid indices minimizing Σ_k edge(k, i_{k−1}, i_k): dynamic
 * programming in O(K·n²).
 */
export function cheapestPath(
  n: number,
  steps: number,
  edge: (k: number, i: number, j: number) => number,
): GridPath {
  if (steps > n) throw new RangeError(`${steps} steps need a grid of at least ${steps + 1} points`);
  let value = Array<number>(n + 1).fill(Infinity);
  value[0] = 0;
  const from: number[][] = [];
  for (let k = 1; k <= steps; k++) {
    const next = Array<number>(n + 1).fill(Infinity);
    const back = Array<number>(n + 1).fill(-1);
    const last = k === steps;
    for (let j = last ? n : k; j <= (last ? n : n - (steps - k)); j++) {
      for (let i = k - 1; i < j; i++) {
        const base = value[i] ?? Infinity;
        if (base === Infinity) continue;
        const total = base + edge(k, i, j);
        if (total < (next[j] ?? Infinity)) {
          next[j] = total;
          back[j] = i;
        }
      }
    }
    from.push(back);
    value = next;
  }
  const indices = [n];
  for (let k = steps; k >= 1; k--) indices.unshift(from[k - 1]?.[indices[0] as number] ?? 0);
  return { indices, cost: value[n] ?? Infinity };
}

/**
 * OSS (Pei et al., 2025): the same dynamic programming, but every state is the student's own,
 * propagated with the student's solver from the best path into it, so accumulated error counts.
 * One denoiser call per (step, grid point) reached.
 */
export async function ossPath(
  teacher: Teacher,
  steps: number,
  solver: Solver,
  denoise: Denoise,
  rows: Rows,
  onStage?: (stage: number) => void,
): Promise<GridPath> {
  const n = teacher.grid.length - 1;
  if (steps > n) throw new RangeError(`${steps} steps need a grid of at least ${steps + 1} points`);
  const size = (teacher.states[0] as Float64Array).length;
  interface Path {
    indices: number[];
    states: Float64Array[];
    denoised: Float64Array[];
    error: number;
  }
  let paths = new Map<number, Path>([
    [0, { indices: [0], states: [teacher.states[0] as Float64Array], denoised: [], error: 0 }],
  ]);
  for (let k = 1; k <= steps; k++) {
    const next = new Map<number, Path>();
    const last = k === steps;
    for (const [i, path] of paths) {
      const denoised = [
        ...path.denoised,
        await denoise(path.states[k - 1] as Float64Array, teacher.grid[i] as TimePoint),
      ];
      for (let j = last ? n : i + 1; j <= (last ? n : n - (steps - k)); j++) {
        if (j <= i) continue;
        const points = [...path.indices, j].map((g) => teacher.grid[g] as TimePoint);
        const plan = planSolver(solver, points);
        const state = applyStep(plan[k - 1] as StepPlan, path.states, denoised, size);
        const error = rowsRmse(state, teacher.states[j] as Float64Array, rows);
        if (error < (next.get(j)?.error ?? Infinity)) {
          next.set(j, {
            indices: [...path.indices, j],
            states: [...path.states, state],
            denoised,
            error,
          });
        }
      }
    }
    paths = next;
    onStage?.(k);
  }
  const best = paths.get(n);
  if (!best) throw new RangeError("no path reached the clean point");
  return { indices: best.indices, cost: best.error };
}

function applyStep(
  step: StepPlan,
  states: readonly Float64Array[],
  denoised: readonly Float64Array[],
  size: number,
): Float64Array {
  const keep = combine(step.keep, states, denoised, size);
  const update = combine(step.update, states, denoised, size);
  for (let j = 0; j < size; j++) keep[j] = (keep[j] ?? 0) + (update[j] ?? 0);
  return keep;
}

export interface RefineSettings {
  readonly solver: Solver;
  readonly train: Rows;
  readonly validation: Rows;
  /** Teacher endpoints for every row. */
  readonly target: Float64Array;
  readonly start: Float64Array;
  /** At most this many solver runs. */
  readonly maxRuns: number;
  /** Stop after this many sweeps without a better validation error. */
  readonly patience: number;
  readonly onSweep?: (sweep: number, train: number, validation: number) => void;
  readonly signal?: AbortSignal;
}

export interface Refined {
  readonly points: TimePoint[];
  readonly train: number;
  readonly validation: number;
  readonly runs: number;
}

/**
 * Continuous refinement of the interior steps in log σ̂, minimizing the endpoint RMSE of the
 * actual K-step solver on the training rows (LD3's objective, searched coordinate-wise without
 * gradients). The validation rows decide when to stop and which schedule is kept, so the result
 * is never worse on validation than where it started.
 */
export async function refineSchedule(
  noise: NoiseModel,
  initial: readonly TimePoint[],
  denoise: Denoise,
  settings: RefineSettings,
): Promise<Refined> {
  const evaluate = async (points: readonly TimePoint[]) => {
    const run = await runPlan(planSolver(settings.solver, points), settings.start, denoise);
    const end = run.states[run.states.length - 1] as Float64Array;
    return {
      train: rowsRmse(end, settings.target, settings.train),
      validation: rowsRmse(end, settings.target, settings.validation),
    };
  };
  // Interior log σ̂ values: the first point (t_max) and the clean end stay where they are.
  const logs = initial.slice(1, -1).map((p) => Math.log(sigmaHat(p)));
  const top = Math.log(sigmaHat(initial[0] as TimePoint));
  const bottom = Math.log(sigmaHat(noise.point(noise.tMin)));
  const first = initial[0] as TimePoint;
  const toPoints = (values: readonly number[]) => [
    ...pointsAt(noise, [first.t, ...values.map((v) => noise.timeForSigma(Math.exp(v)))]),
    CLEAN,
  ];
  let runs = 1;
  let current = await evaluate(initial);
  let best = { points: [...initial], ...current };
  let delta = (top - bottom) / (2 * (logs.length + 1));
  let stale = 0;
  let sweep = 0;
  while (runs < settings.maxRuns && stale < settings.patience && delta > 1e-4 && logs.length > 0) {
    settings.signal?.throwIfAborted();
    sweep++;
    let moved = false;
    const bestBefore = best.validation;
    for (let i = 0; i < logs.length && runs < settings.maxRuns; i++) {
      for (const direction of [-1, 1]) {
        const trial = [...logs];
        const value = (trial[i] as number) + direction * delta;
        const upper = i === 0 ? top : (trial[i - 1] as number);
        const lower = i === trial.length - 1 ? bottom : (trial[i + 1] as number);
        if (value >= upper || value <= lower) continue;
        trial[i] = value;
        const points = toPoints(trial);
        if (points.length !== initial.length) continue; // snapping merged two steps
        runs++;
        const result = await evaluate(points);
        if (result.train < current.train) {
          logs.splice(0, logs.length, ...trial);
          current = result;
          moved = true;
          if (result.validation < best.validation) best = { points, ...result };
          break;
        }
      }
    }
    settings.onSweep?.(sweep, current.train, best.validation);
    // A sweep that found no better training error tries smaller moves; one that did, but did
    // not help on validation, counts towards early stopping.
    if (!moved) delta /= 2;
    else stale = best.validation < bestBefore ? 0 : stale + 1;
  }
  return { points: best.points, train: best.train, validation: best.validation, runs };
}

/**
 * Per-step scalars c_i on the solver's update, fitted greedily in closed form so that the
 * student's state after each step is the least-squares closest to the teacher's state there:
 * c_i = ⟨target − keep, update⟩ / ⟨update, update⟩ over the training rows.
 */
export async function fitCoefficients(
  plan: readonly StepPlan[],
  start: Float64Array,
  denoise: Denoise,
  targets: readonly Float64Array[],
  train: Rows,
): Promise<number[]> {
  const size = start.length;
  const states = [start];
  const denoised: Float64Array[] = [];
  const coefficients: number[] = [];
  for (let i = 0; i < plan.length; i++) {
    const step = plan[i] as StepPlan;
    denoised.push(await denoise(states[i] as Float64Array, step.from));
    const keep = combine(step.keep, states, denoised, size);
    const update = combine(step.update, states, denoised, size);
    const target = targets[i] as Float64Array;
    let numerator = 0;
    let denominator = 0;
    for (let j = train.start * train.width; j < train.end * train.width; j++) {
      const u = update[j] ?? 0;
      numerator += ((target[j] ?? 0) - (keep[j] ?? 0)) * u;
      denominator += u * u;
    }
    const c = denominator > 0 ? numerator / denominator : 1;
    coefficients.push(c);
    for (let j = 0; j < size; j++) keep[j] = (keep[j] ?? 0) + c * (update[j] ?? 0);
    states.push(keep);
  }
  return coefficients;
}
