/**
 * latent/resolution on the zoo unet sampler: zoo unet small (141.7 M parameters, 77 text tokens)
 * exported as a K-step DPM-Solver++(2M) sampler graph (diffusion plugin, logSNR schedule) for a
 * 64×64 latent, against the same sampler after latent/resolution (scale 0.75: 48×48, then a
 * bilinear Resize to 64×64). CPU, batch 1, runs interleaved. Quality: PSNR of the reduced
 * sampler's (resized) latent against the full one's, from the same noise (bilinearly
 * downsampled and rescaled to unit variance for the reduced run).
 *
 * Floor (issue 19): time per sample ≤ 0.65× at scale 0.75.
 *
 *   pnpm bench:latent:resolution     # BENCH_REPEATS (default 3), BENCH_STEPS (default 2), BENCH_SIDE (64)
 */
import {
  createPassRandom,
  DataType,
  type Model,
  openSession,
  runPassStandalone,
  Tensor,
} from "@lathe/core";
import {
  baselineSchedule,
  buildSamplerGraph,
  conditioningFor,
  planSolver,
  readDiffusionSpec,
  SAMPLER_INPUT,
} from "@lathe/plugin-diffusion";
import { latentResolution } from "@lathe/plugin-latent";
import { unet } from "@lathe/plugin-zoo";

const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const STEPS = Number(process.env.BENCH_STEPS ?? 2);
const SIDE = Number(process.env.BENCH_SIDE ?? 64);
const SCALE = 0.75;

function normals(length: number, seed: number): Float32Array {
  const random = createPassRandom(seed, "bench", "noise");
  return Float32Array.from({ length }, () => random.normal());
}

/** Bilinear (half-pixel) resize of [c, h, w] planes. */
function bilinear(x: Float32Array, c: number, h: number, w: number, H: number, W: number) {
  const out = new Float32Array(c * H * W);
  const axis = (o: number, from: number, to: number) => {
    const p = Math.min(Math.max((o + 0.5) * (from / to) - 0.5, 0), from - 1);
    const lo = Math.floor(p);
    return { lo, hi: Math.min(lo + 1, from - 1), t: p - lo };
  };
  for (let ch = 0; ch < c; ch++)
    for (let y = 0; y < H; y++)
      for (let x0 = 0; x0 < W; x0++) {
        const ay = axis(y, h, H);
        const ax = axis(x0, w, W);
        const at = (yy: number, xx: number) => x[(ch * h + yy) * w + xx] ?? 0;
        const top = at(ay.lo, ax.lo) * (1 - ax.t) + at(ay.lo, ax.hi) * ax.t;
        const bottom = at(ay.hi, ax.lo) * (1 - ax.t) + at(ay.hi, ax.hi) * ax.t;
        out[(ch * H + y) * W + x0] = top * (1 - ay.t) + bottom * ay.t;
      }
  return out;
}

function psnr(a: Float32Array, b: Float32Array): number {
  let peak = 0;
  let error = 0;
  for (let i = 0; i < a.length; i++) {
    peak = Math.max(peak, Math.abs(b[i] ?? 0));
    error += ((a[i] ?? 0) - (b[i] ?? 0)) ** 2;
  }
  return 10 * Math.log10((peak * peak) / (error / a.length));
}

const bundle = unet.build(unet.presets.small as never, { seed: 0 });
const spec = readDiffusionSpec(bundle);
const denoiser = bundle.components.get("unet") as Model;
const plan = planSolver("dpmpp-2m", baselineSchedule("logsnr", spec.noise, STEPS));
const sampler = () => ({
  components: new Map([["sampler", buildSamplerGraph(denoiser, spec, plan)]]),
  metadata: { sampler: { sampleShape: [4, SIDE, SIDE], output: "sample", steps: STEPS } },
});
const reduced = await runPassStandalone(latentResolution, sampler(), {
  options: { scale: SCALE },
});
const small = (reduced.result.bundle.metadata.sampler as { sampleShape: number[] }).sampleShape;
const side = small[1] as number;
const conditioning = await conditioningFor(
  denoiser,
  spec.conditioningInputs,
  1,
  createPassRandom(0, "bench", "text"),
  {},
);
const full = normals(4 * SIDE * SIDE, 1);
const down = bilinear(full, 4, SIDE, SIDE, side, side);
const std = Math.sqrt(down.reduce((a, v) => a + v * v, 0) / down.length);
const noiseFor = (values: Float32Array, s: number, scale: number) => ({
  ...conditioning,
  [SAMPLER_INPUT]: Tensor.fromArray(
    DataType.FLOAT,
    [1, 4, s, s],
    values.map((v) => v * scale),
  ),
});
const sigmaMax = spec.noise.point(spec.noise.tMax);
const prior = Math.sqrt(sigmaMax.alpha ** 2 + sigmaMax.sigma ** 2);
let opened = performance.now();
const contenders = {
  full: {
    session: await openSession(sampler().components.get("sampler") as Model),
    feeds: noiseFor(full, SIDE, prior),
  },
  reduced: {
    session: await openSession(reduced.result.bundle.components.get("sampler") as Model),
    feeds: noiseFor(down, side, prior / std),
  },
};
opened = (performance.now() - opened) / 1000;
const times: Record<string, number[]> = { full: [], reduced: [] };
const outputs: Record<string, Float32Array> = {};
for (let r = 0; r <= REPEATS; r++) {
  for (const [name, { session, feeds }] of Object.entries(contenders)) {
    const t = performance.now();
    const out = await session.run(feeds);
    const ms = performance.now() - t;
    if (r > 0) times[name]?.push(ms);
    outputs[name] = (Object.values(out)[0] as Tensor).toArray() as Float32Array;
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const ratio = median(times.reduced ?? []) / median(times.full ?? []);
console.log(
  `\nzoo unet small sampler (${STEPS}-step DPM-Solver++(2M), logSNR), batch 1, ${REPEATS} interleaved runs (median); sessions opened in ${opened.toFixed(0)} s\n`,
);
console.log(
  "| latent | time per sample ms | vs full | PSNR of the latent vs full |\n|---|---|---|---|",
);
console.log(`| ${SIDE}×${SIDE} (full) | ${median(times.full ?? []).toFixed(0)} | 1 | ∞ |`);
console.log(
  `| ${side}×${side} (scale ${SCALE}), resized to ${SIDE}×${SIDE} | ${median(times.reduced ?? []).toFixed(0)} | ${ratio.toFixed(3)} | ${psnr(outputs.reduced as Float32Array, outputs.full as Float32Array).toFixed(2)} dB |`,
);
console.log(
  `\nfloor: time per sample ${ratio.toFixed(3)} ≤ 0.65: ${ratio <= 0.65 ? "PASS" : "FAIL"}`,
);
for (const { session } of Object.values(contenders)) await session.release();
