/**
 * Diffusion-step distillation on zoo gmm-diffusion at d = 64 with 16 modes (CPU): every baseline
 * schedule × solver × K against the 200-step DPM-Solver++(2M) teacher, the learned schedules
 * (best of gits / oss / refine), and the issue's floors, measured on held-out noises.
 *
 *   pnpm bench:diffusion:gmm     # BENCH_TRAIN (256 noises), BENCH_EVAL (1024), BENCH_KS (4,5,6,8,10,12,16)
 *                                # BENCH_METHOD (best: gits, oss and refine; or one of them)
 */
import { createCpuSessions, createPassRandom, type Model } from "@lathe/core";
import {
  BASELINES,
  type Baseline,
  baselineSchedule,
  CLEAN,
  distillSchedule,
  drawNoise,
  type Method,
  openDenoiser,
  planSolver,
  readDiffusionSpec,
  runPlan,
  SOLVERS,
  type Solver,
  solveTeacher,
  type TimePoint,
  teacherGrid,
} from "@lathe/plugin-diffusion";
import { gmmDiffusion, readGmmMetadata, slicedWasserstein } from "@lathe/plugin-zoo";

const TRAIN = Number(process.env.BENCH_TRAIN ?? 256);
const EVAL = Number(process.env.BENCH_EVAL ?? 1024);
const KS = (process.env.BENCH_KS ?? "4,5,6,8,10,12,16").split(",").map(Number);
const LEARN_KS = (process.env.BENCH_LEARN_KS ?? "5,8").split(",").map(Number);
const SOLVER = (process.env.BENCH_SOLVER ?? "dpmpp-2m") as Solver;
const REFINE_RUNS = Number(process.env.BENCH_REFINE_RUNS ?? 400);
const METHOD = (process.env.BENCH_METHOD ?? "best") as Method;

const bundle = gmmDiffusion.build(gmmDiffusion.presets.d64 as never, { seed: 0 });
const { mixture } = readGmmMetadata(bundle);
const spec = readDiffusionSpec(bundle);
const model = bundle.components.get("model") as Model;
const sessions = createCpuSessions();
const width = mixture.dim;
const start = spec.noise.point(spec.noise.tMax);

// Held-out noises and their teacher endpoints.
const evalNoise = drawNoise(createPassRandom(1, "bench/diffusion", "eval"), EVAL * width, start);
const evalDenoiser = await openDenoiser(sessions, model, spec, {
  batch: EVAL,
  sampleShape: [width],
});
const teacherStart = performance.now();
const teacher = await solveTeacher(
  evalDenoiser.denoise,
  teacherGrid(spec.noise, 200),
  evalNoise,
  "dpmpp-2m",
);
const teacherMs = performance.now() - teacherStart;
const target = teacher.states.at(-1) as Float64Array;
const sw = (x: ArrayLike<number>) => slicedWasserstein(mixture, x, { projections: 128, seed: 3 });
const teacherSw = sw(target);

async function evaluate(
  points: readonly TimePoint[],
  solver: Solver,
  coefficients?: readonly number[],
) {
  const run = await runPlan(
    planSolver(solver, points),
    evalNoise,
    evalDenoiser.denoise,
    coefficients,
  );
  const end = run.states.at(-1) as Float64Array;
  let error = 0;
  let flips = 0;
  for (let r = 0; r < EVAL; r++) {
    let row = 0;
    for (let j = 0; j < width; j++)
      row += ((end[r * width + j] ?? 0) - (target[r * width + j] ?? 0)) ** 2;
    error += row;
    if (Math.sqrt(row / width) > 0.5) flips++;
  }
  return { rmse: Math.sqrt(error / end.length), sw: sw(end), flips: flips / EVAL };
}

console.log(
  `\ngmm-diffusion d=${width}, ${mixture.weights.length} modes; teacher DPM-Solver++(2M), 200 steps (${(teacherMs / 1000).toFixed(1)} s for ${EVAL} noises); ${EVAL} held-out noises; sliced W2 of the teacher ${teacherSw.toFixed(4)}\n`,
);
console.log(
  "Endpoint RMSE to the teacher (flips: share of samples > 0.5 RMS from the teacher's) and sliced W2, every baseline:\n",
);
console.log(`| solver | schedule | ${KS.map((k) => `K=${k}`).join(" | ")} |`);
console.log(`|---|---|${KS.map(() => "---").join("|")}|`);
const baselineResults = new Map<string, { rmse: number; sw: number; flips: number }>();
for (const solver of SOLVERS) {
  for (const kind of BASELINES) {
    const cells: string[] = [];
    for (const k of KS) {
      const r = await evaluate(baselineSchedule(kind as Baseline, spec.noise, k), solver);
      baselineResults.set(`${solver}/${kind}/${k}`, r);
      cells.push(`${r.rmse.toFixed(4)} (${(100 * r.flips).toFixed(1)} %, W ${r.sw.toFixed(3)})`);
    }
    console.log(`| ${solver} | ${kind} | ${cells.join(" | ")} |`);
  }
}

const trainNoise = drawNoise(createPassRandom(2, "bench/diffusion", "train"), TRAIN * width, start);
const trainDenoiser = await openDenoiser(sessions, model, spec, {
  batch: TRAIN,
  sampleShape: [width],
});
console.log(
  `\nLearned (${SOLVER}, method ${METHOD}, ${TRAIN} training noises: half fit, half validate; refine ${REFINE_RUNS} runs), on the ${EVAL} held-out noises:\n`,
);
console.log(
  "| K | method | timesteps | RMSE | flips | sliced W2 | best baseline RMSE | gain | search s |\n|---|---|---|---|---|---|---|---|---|",
);
const learned = new Map<number, { rmse: number; sw: number }>();
for (const k of LEARN_KS) {
  const began = performance.now();
  const result = await distillSchedule(spec.noise, trainDenoiser.denoise, trainNoise, width, {
    steps: k,
    solver: SOLVER,
    method: METHOD,
    teacherSteps: 200,
    teacherSolver: "dpmpp-2m",
    validationFraction: 0.5,
    coefficients: process.env.BENCH_COEFFICIENTS === "1",
    refineRuns: REFINE_RUNS,
    patience: 6,
    gitsWeight: 1.15,
    baselines: BASELINES,
  });
  const seconds = (performance.now() - began) / 1000;
  const r = await evaluate(result.points, SOLVER, result.coefficients);
  learned.set(k, r);
  const best = Math.min(
    ...BASELINES.map((b) => baselineResults.get(`${SOLVER}/${b}/${k}`)?.rmse ?? Infinity),
  );
  console.log(
    `| ${k} | ${result.method} | ${result.points
      .filter((p) => p !== CLEAN)
      .map((p) => p.t)
      .join(
        ",",
      )} | ${r.rmse.toFixed(4)} | ${(100 * r.flips).toFixed(1)} % | ${r.sw.toFixed(4)} | ${best.toFixed(4)} | ${(best / r.rmse).toFixed(2)}× | ${seconds.toFixed(1)} |`,
  );
}
await trainDenoiser.release();
await evalDenoiser.release();

console.log("\nFloors:\n");
const l8 = learned.get(8);
const l5 = learned.get(5);
if (l8) {
  const best8 = Math.min(
    ...BASELINES.map((b) => baselineResults.get(`${SOLVER}/${b}/8`)?.rmse ?? Infinity),
  );
  const ddim16 = baselineResults.get("ddim/uniform-t/16");
  console.log(
    `- K=8 learned vs best baseline at K=8 (${SOLVER}): RMSE ${l8.rmse.toFixed(4)} vs ${best8.toFixed(4)} = ${(best8 / l8.rmse).toFixed(2)}× lower (floor ≥ 2×): ${best8 / l8.rmse >= 2 ? "PASS" : "FAIL"}`,
  );
  if (ddim16) {
    const pass = l8.rmse < ddim16.rmse && l8.sw < ddim16.sw;
    console.log(
      `- K=8 learned vs uniform DDIM K=16: RMSE ${l8.rmse.toFixed(4)} vs ${ddim16.rmse.toFixed(4)}, sliced W2 ${l8.sw.toFixed(4)} vs ${ddim16.sw.toFixed(4)} (floor: both lower): ${pass ? "PASS" : "FAIL"}`,
    );
  }
}
if (l5) {
  console.log(
    `- K=5 learned sliced W2 ${l5.sw.toFixed(4)} vs the teacher's ${teacherSw.toFixed(4)} = ${(l5.sw / teacherSw).toFixed(2)}× (floor ≤ 1.5×): ${l5.sw / teacherSw <= 1.5 ? "PASS" : "FAIL"}`,
  );
}
