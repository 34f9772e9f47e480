/**
 * The exported sampler against the TypeScript solver loop on zoo unet small (141.7 M
 * parameters, 32×32 latent, 77 text tokens), CPU, batch 1: time per sample of the K = 8 sampler
 * graph (one ONNX Runtime session, the UNet inlined 8 times) against the same 8 steps as a loop
 * of UNet calls, and against a 50-step DDIM loop. Sessions are opened first; runs interleave.
 *
 *   pnpm bench:diffusion:unet     # BENCH_REPEATS (default 3), BENCH_SIZE (default small)
 */
import {
  createCpuSessions,
  createPassRandom,
  DataType,
  type Model,
  openSession,
  Tensor,
} from "@lathe/core";
import {
  baselineSchedule,
  buildSamplerGraph,
  conditioningFor,
  drawNoise,
  openDenoiser,
  planSolver,
  readDiffusionSpec,
  resolveSampleShape,
  runPlan,
  SAMPLER_INPUT,
} from "@lathe/plugin-diffusion";
import { unet } from "@lathe/plugin-zoo";

const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const size = process.env.BENCH_SIZE ?? "small";
const bundle = unet.build(unet.presets[size] as never, { seed: 0 });
const spec = readDiffusionSpec(bundle);
const model = bundle.components.get("unet") as Model;
const shape = resolveSampleShape(bundle, model, spec, undefined);
const width = shape.reduce((a, b) => a * b, 1);
const noise = drawNoise(
  createPassRandom(0, "bench", "noise"),
  width,
  spec.noise.point(spec.noise.tMax),
);
const conditioning = await conditioningFor(
  model,
  spec.conditioningInputs,
  1,
  createPassRandom(0, "bench", "text"),
  {},
);
const sessions = createCpuSessions();

const plan8 = planSolver("dpmpp-2m", baselineSchedule("logsnr", spec.noise, 8));
const plan50 = planSolver("ddim", baselineSchedule("uniform-t", spec.noise, 50));
const built = performance.now();
const sampler = buildSamplerGraph(model, spec, plan8);
const buildMs = performance.now() - built;
const opened = performance.now();
const samplerSession = await openSession(sampler);
const openMs = performance.now() - opened;
const denoiser = await openDenoiser(sessions, model, spec, {
  batch: 1,
  sampleShape: shape,
  conditioning,
});
const feeds = {
  ...conditioning,
  [SAMPLER_INPUT]: Tensor.fromArray(DataType.FLOAT, [1, ...shape], Float32Array.from(noise)),
};

const times = { sampler: [] as number[], loop8: [] as number[], loop50: [] as number[] };
let maxDiff = 0;
for (let r = 0; r < REPEATS + 1; r++) {
  let t = performance.now();
  const out = await samplerSession.run(feeds);
  const graphMs = performance.now() - t;
  t = performance.now();
  const loop = await runPlan(plan8, noise, denoiser.denoise);
  const loopMs = performance.now() - t;
  let loop50Ms = Number.NaN;
  if (r > 0 && r <= Math.max(1, Math.floor(REPEATS / 2))) {
    t = performance.now();
    await runPlan(plan50, noise, denoiser.denoise);
    loop50Ms = performance.now() - t;
  }
  const graph = Object.values(out)[0]?.toArray() as Float32Array;
  const end = loop.states.at(-1) as Float64Array;
  for (let i = 0; i < end.length; i++)
    maxDiff = Math.max(maxDiff, Math.abs((graph[i] ?? 0) - (end[i] ?? 0)));
  if (r === 0) continue; // warm-up
  times.sampler.push(graphMs);
  times.loop8.push(loopMs);
  if (!Number.isNaN(loop50Ms)) times.loop50.push(loop50Ms);
}
await samplerSession.release();
await denoiser.release();
const median = (xs: number[]) =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const [s, l8, l50] = [median(times.sampler), median(times.loop8), median(times.loop50)];
console.log(
  `\nzoo unet ${size}, latent [1, ${shape.join(", ")}], ${REPEATS} interleaved runs after a warm-up, medians\n`,
);
console.log("| what | time per sample | ratio |\n|---|---|---|");
console.log(
  `| sampler graph, K = 8 (one session) | ${s.toFixed(0)} ms | ${(s / l8).toFixed(3)} × the loop (floor ≤ 1.05: ${s / l8 <= 1.05 ? "PASS" : "FAIL"}) |`,
);
console.log(`| TypeScript loop, DPM-Solver++(2M), 8 UNet calls | ${l8.toFixed(0)} ms | 1 |`);
console.log(
  `| TypeScript loop, DDIM, 50 UNet calls | ${l50.toFixed(0)} ms | ${(l50 / s).toFixed(2)} × the sampler |`,
);
console.log(
  `\nsampler graph: built in ${buildMs.toFixed(0)} ms, session opened in ${(openMs / 1000).toFixed(1)} s; max |graph − loop| = ${maxDiff.toExponential(2)}`,
);
