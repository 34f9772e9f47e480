import { CLEAN, type NoiseModel, type TimePoint } from "./noise.js";
import { BASELINES, type Baseline, baselineSchedule, teacherGrid } from "./schedules.js";
import {
  fitCoefficients,
  gitsPath,
  ossPath,
  type Rows,
  refineSchedule,
  rowsRmse,
  solveTeacher,
  type Teacher,
} from "./search.js";
import { type Denoise, planSolver, runPlan, type Solver } from "./solvers.js";

export type Method = "gits" | "oss" | "refine" | "best";
export const METHODS: readonly Method[] = ["gits", "oss", "refine", "best"];

export interface DistillSettings {
  readonly steps: number;
  readonly solver: Solver;
  readonly method: Method;
  readonly teacherSteps: number;
  readonly teacherSolver: Solver;
  readonly validationFraction: number;
  readonly coefficients: boolean;
  readonly refineRuns: number;
  readonly patience: number;
  readonly gitsWeight: number;
  readonly baselines: readonly Baseline[];
}

export interface Candidate {
  readonly points: readonly TimePoint[];
  readonly train: number;
  readonly validation: number;
}

export interface DistillResult {
  /** The chosen schedule: K evaluation points and the clean end. */
  readonly points: readonly TimePoint[];
  readonly coefficients?: readonly number[];
  /** Which search produced it. */
  readonly method: Exclude<Method, "best">;
  readonly train: number;
  readonly validation: number;
  /** Endpoint RMSE to the teacher on the validation rows, per baseline and per search. */
  readonly baselines: Readonly<Partial<Record<Baseline, Candidate>>>;
  readonly searches: Readonly<Partial<Record<Exclude<Method, "best">, Candidate>>>;
  /** Endpoint RMSE with the coefficients, when they were fitted (kept only if lower). */
  readonly withCoefficients?: Candidate;
}

export interface DistillHooks {
  readonly log?: (message: string) => void;
  readonly stage?: (label: string) => void;
  readonly signal?: AbortSignal;
  /** A teacher solved earlier for the same model and start (cached by the caller). */
  readonly teacher?: (compute: () => Promise<Teacher>) => Promise<Teacher>;
}

/**
 * Learns a K-step schedule for `solver` that lands where the many-step teacher lands, from the
 * start states `start` (rows × width): the teacher on a fine grid, every baseline, then GITS,
 * OSS and/or continuous refinement, each judged by the endpoint RMSE to the teacher on held-out
 * rows; optionally per-step coefficients.
 */
export async function distillSchedule(
  noise: NoiseModel,
  denoise: Denoise,
  start: Float64Array,
  width: number,
  settings: DistillSettings,
  hooks: DistillHooks = {},
): Promise<DistillResult> {
  const rows = start.length / width;
  const trainRows = Math.max(
    1,
    Math.min(rows - 1, Math.round(rows * (1 - settings.validationFraction))),
  );
  const train: Rows = { start: 0, end: trainRows, width };
  const validation: Rows = { start: trainRows, end: rows, width };
  const solveIt = () =>
    solveTeacher(denoise, teacherGrid(noise, settings.teacherSteps), start, settings.teacherSolver);
  hooks.stage?.("teacher");
  const teacher = await (hooks.teacher ? hooks.teacher(solveIt) : solveIt());
  const target = teacher.states[teacher.states.length - 1] as Float64Array;

  const judge = async (
    points: readonly TimePoint[],
    coefficients?: readonly number[],
  ): Promise<Candidate> => {
    hooks.signal?.throwIfAborted();
    const run = await runPlan(planSolver(settings.solver, points), start, denoise, coefficients);
    const end = run.states[run.states.length - 1] as Float64Array;
    return {
      points,
      train: rowsRmse(end, target, train),
      validation: rowsRmse(end, target, validation),
    };
  };

  const baselines: Partial<Record<Baseline, Candidate>> = {};
  for (const kind of settings.baselines) {
    hooks.stage?.(`baseline ${kind}`);
    baselines[kind] = await judge(baselineSchedule(kind, noise, settings.steps));
    hooks.log?.(`baseline ${kind}: endpoint RMSE ${fmt(baselines[kind]?.validation)}`);
  }

  const searches: Partial<Record<Exclude<Method, "best">, Candidate>> = {};
  const gridPoints = (indices: readonly number[]) =>
    indices.map((i) => teacher.grid[i] as TimePoint);
  const wants = (m: Exclude<Method, "best">) => settings.method === m || settings.method === "best";
  if (wants("gits")) {
    hooks.stage?.("gits");
    searches.gits = await judge(
      gridPoints(gitsPath(teacher, settings.steps, train, settings.gitsWeight).indices),
    );
    hooks.log?.(`gits: endpoint RMSE ${fmt(searches.gits.validation)}`);
  }
  if (wants("oss")) {
    hooks.stage?.("oss");
    const path = await ossPath(teacher, settings.steps, settings.solver, denoise, train, (k) =>
      hooks.stage?.(`oss step ${k}/${settings.steps}`),
    );
    searches.oss = await judge(gridPoints(path.indices));
    hooks.log?.(`oss: endpoint RMSE ${fmt(searches.oss.validation)}`);
  }
  if (wants("refine")) {
    // Start from the best schedule found so far on the training rows.
    const seeds = [...Object.values(searches), ...Object.values(baselines)] as Candidate[];
    const from =
      seeds.sort((a, b) => a.train - b.train)[0]?.points ??
      baselineSchedule("logsnr", noise, settings.steps);
    hooks.stage?.("refine");
    const refined = await refineSchedule(noise, from, denoise, {
      solver: settings.solver,
      train,
      validation,
      target,
      start,
      maxRuns: settings.refineRuns,
      patience: settings.patience,
      signal: hooks.signal,
      onSweep: (sweep, trainError, best) =>
        hooks.stage?.(
          `refine sweep ${sweep}: train ${fmt(trainError)}, best validation ${fmt(best)}`,
        ),
    });
    searches.refine = {
      points: refined.points,
      train: refined.train,
      validation: refined.validation,
    };
    hooks.log?.(`refine (${refined.runs} solver runs): endpoint RMSE ${fmt(refined.validation)}`);
  }
  const [method, chosen] = (
    Object.entries(searches) as [Exclude<Method, "best">, Candidate][]
  ).sort((a, b) => a[1].validation - b[1].validation)[0] as [Exclude<Method, "best">, Candidate];

  let coefficients: number[] | undefined;
  let withCoefficients: Candidate | undefined;
  if (settings.coefficients) {
    hooks.stage?.("coefficients");
    const plan = planSolver(settings.solver, chosen.points);
    const targets = await teacherStatesAt(
      teacher,
      chosen.points,
      denoise,
      start,
      settings.teacherSolver,
    );
    const fitted = await fitCoefficients(plan, start, denoise, targets, train);
    withCoefficients = await judge(chosen.points, fitted);
    hooks.log?.(
      `coefficients: endpoint RMSE ${fmt(chosen.validation)} → ${fmt(withCoefficients.validation)}`,
    );
    if (withCoefficients.validation < chosen.validation) coefficients = fitted;
  }
  const final = coefficients ? (withCoefficients as Candidate) : chosen;
  return {
    points: chosen.points,
    ...(coefficients ? { coefficients } : {}),
    method,
    train: final.train,
    validation: final.validation,
    baselines,
    searches,
    ...(withCoefficients ? { withCoefficients } : {}),
  };
}

/**
 * The teacher's state after each of the student's steps. Points on the teacher's grid read the
 * stored trajectory; otherwise the teacher is solved again on its grid joined with the points.
 */
async function teacherStatesAt(
  teacher: Teacher,
  points: readonly TimePoint[],
  denoise: Denoise,
  start: Float64Array,
  solver: Solver,
): Promise<Float64Array[]> {
  const after = points.slice(1);
  const index = (p: TimePoint) => teacher.grid.findIndex((g) => g.t === p.t && g.sigma === p.sigma);
  if (after.every((p) => index(p) >= 0))
    return after.map((p) => teacher.states[index(p)] as Float64Array);
  const grid = [...teacher.grid.slice(0, -1), ...after.slice(0, -1)].sort(
    (a, b) => b.sigma / b.alpha - a.sigma / a.alpha,
  );
  const unique = grid.filter((p, i) => i === 0 || p.t !== (grid[i - 1] as TimePoint).t);
  const joined = await solveTeacher(denoise, unique, start, solver);
  return after.map((p) =>
    p === CLEAN || p.sigma === 0
      ? (joined.states[joined.states.length - 1] as Float64Array)
      : (joined.states[joined.grid.findIndex((g) => g.t === p.t)] as Float64Array),
  );
}

function fmt(value: number | undefined): string {
  return value === undefined ? "–" : value.toPrecision(4);
}

export { BASELINES };
