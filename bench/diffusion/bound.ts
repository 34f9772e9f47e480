/**
 * The bound of the K = 8 floor: continuous refinement run on the evaluation noises themselves
 * (an oracle: it fits and is judged on the same 1024 noises), from two starting schedules, for
 * DPM-Solver++(2M) and iPNDM on zoo gmm-diffusion d = 64. What it reaches is the most a schedule
 * search of this kind can gain; the learned schedules of gmm.ts are fitted on other noises.
 *
 *   pnpm bench:diffusion:bound    # BENCH_RUNS (default 800), BENCH_SOLVERS (default dpmpp-2m,ipndm)
 */
import { createCpuSessions, createPassRandom, type Model } from "@lathe/core";
import {
  baselineSchedule,
  drawNoise,
  openDenoiser,
  planSolver,
  readDiffusionSpec,
  refineSchedule,
  rowsRmse,
  runPlan,
  type Solver,
  solveTeacher,
  teacherGrid,
} from "@lathe/plugin-diffusion";
import { gmmDiffusion } from "@lathe/plugin-zoo";

const RUNS = Number(process.env.BENCH_RUNS ?? 800);
const SOLVERS = (process.env.BENCH_SOLVERS ?? "dpmpp-2m,ipndm").split(",") as Solver[];
const bundle = gmmDiffusion.build(gmmDiffusion.presets.d64 as never, { seed: 0 });
const spec = readDiffusionSpec(bundle);
const model = bundle.components.get("model") as Model;
const count = 1024;
const width = 64;
// The same held-out noises as gmm.ts.
const noise = drawNoise(
  createPassRandom(1, "bench/diffusion", "eval"),
  count * width,
  spec.noise.point(spec.noise.tMax),
);
const denoiser = await openDenoiser(createCpuSessions(), model, spec, {
  batch: count,
  sampleShape: [width],
});
const teacher = await solveTeacher(
  denoiser.denoise,
  teacherGrid(spec.noise, 200),
  noise,
  "dpmpp-2m",
);
const target = teacher.states.at(-1) as Float64Array;
const all = { start: 0, end: count, width };
console.log(
  `\nOracle refinement, K = 8, on the ${count} evaluation noises (${RUNS} solver runs at most)\n`,
);
console.log(
  "| solver | start | start RMSE | refined RMSE | timesteps | runs | s |\n|---|---|---|---|---|---|---|",
);
for (const solver of SOLVERS) {
  for (const from of ["uniform-t", "edm"] as const) {
    const initial = baselineSchedule(from, spec.noise, 8);
    const began = performance.now();
    const refined = await refineSchedule(spec.noise, initial, denoiser.denoise, {
      solver,
      train: all,
      validation: all,
      target,
      start: noise,
      maxRuns: RUNS,
      patience: 100,
    });
    const start = await runPlan(planSolver(solver, initial), noise, denoiser.denoise);
    const before = rowsRmse(start.states.at(-1) as Float64Array, target, all);
    console.log(
      `| ${solver} | ${from} | ${before.toFixed(4)} | ${refined.validation.toFixed(4)} | ${refined.points
        .slice(0, -1)
        .map((p) => p.t)
        .join(",")} | ${refined.runs} | ${((performance.now() - began) / 1000).toFixed(0)} |`,
    );
  }
}
await denoiser.release();
