/**
 * latent/pca-channels folded into a denoiser, on zoo gmm-diffusion with its data on an
 * 8-dimensional subspace of d = 64 (16 modes), CPU: the basis is found on data samples, folded
 * into the denoiser's proj_in/proj_out, and DDIM runs in the 8 reduced dimensions (the samples
 * are lifted by U_k at the end). Side by side in one run with the full 64-dimensional model from
 * the same noises (the reduced run starts at U_kᵀ·x_T, which is N(0, I_8) like a fresh draw), and
 * from independent noises. Floor (issue 19): sliced Wasserstein to the true distribution ≤ 1.1×
 * the full model's. No time is reported: the folded denoiser runs the same 64-dimensional
 * mixture inside (only its two projection layers shrink), so it is not faster.
 *
 *   pnpm bench:latent:gmm     # BENCH_SAMPLES (default 4000), BENCH_STEPS (50), BENCH_SEEDS (3)
 */
import {
  createCpuSessions,
  DataType,
  type Model,
  runPassStandalone,
  SeededRandom,
  Tensor,
} from "@lathe/core";
import { liftChannels, modeCoverage, projectChannels, reducedSpace } from "@lathe/plugin-diffusion";
import { pcaChannels } from "@lathe/plugin-latent";
import {
  type Denoiser,
  gmmDiffusion,
  meanLogLikelihood,
  readGmmMetadata,
  sampleDdim,
  sampleMarginal,
  slicedWasserstein,
} from "@lathe/plugin-zoo";

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 4000);
const STEPS = Number(process.env.BENCH_STEPS ?? 50);
const SEEDS = Number(process.env.BENCH_SEEDS ?? 3);
const DIM = 64;
const RANK = 8;
const CALIBRATION = 2048;

const config = { ...gmmDiffusion.presets.d64, subspace: RANK } as never;
const original = gmmDiffusion.build(config, { seed: 0 });
const { mixture, schedule } = readGmmMetadata(original);
const train = sampleMarginal(mixture, CALIBRATION, new SeededRandom(100));

const passStarted = performance.now();
const folded = await runPassStandalone(pcaChannels, gmmDiffusion.build(config, { seed: 0 }), {
  options: { denoiser: "model", k: RANK, samples: CALIBRATION, data: "train" },
  data: { train: [{ sample: Tensor.fromArray(DataType.FLOAT, [CALIBRATION, DIM], train) }] },
});
const passSeconds = (performance.now() - passStarted) / 1000;
const pca = folded.result.bundle.metadata.latentPca as {
  explainedVariance: number[];
};

const sessions = createCpuSessions();
const denoiser =
  (model: Model, dim: number): Denoiser =>
  async (sample, timesteps) => {
    const [out] = await sessions.run(model, [
      {
        sample: Tensor.fromArray(DataType.FLOAT, [sample.length / dim, dim], sample),
        timestep: Tensor.fromArray(
          DataType.FLOAT,
          [timesteps.length],
          Float32Array.from(timesteps),
        ),
      },
    ]);
    return (Object.values(out ?? {})[0] as Tensor).toArray() as Float32Array;
  };
const full = denoiser(original.components.get("model") as Model, DIM);
const reduced = denoiser(folded.result.bundle.components.get("model") as Model, RANK);

// The noise projection and the lift drawSamples applies to a bundle folded this way.
const space = reducedSpace(folded.result.bundle);
if (!space) throw new Error("the folded bundle records no uncentered data-space basis");
const project = (x: Float32Array) => Float32Array.from(projectChannels(x, space, x.length / DIM));
const lift = (z: Float32Array) => liftChannels(z, space, z.length / RANK);
const sw = (x: Float32Array) => slicedWasserstein(mixture, x, { projections: 64, seed: 0 });

console.log(
  `\nzoo gmm-diffusion d64 (16 modes) with subspace=${RANK}, seed 0; basis from ${CALIBRATION} data samples (pass ${passSeconds.toFixed(1)} s); DDIM ${STEPS} steps, ${SAMPLES} samples, ${SEEDS} noise seeds\n`,
);
console.log("| k | explained second moment | left out (1 − explained) |\n|---|---|---|");
for (const k of [1, 4, 7, 8, 9, 16, 64]) {
  const explained = pca.explainedVariance[k - 1] ?? 1;
  console.log(
    `| ${k} | ${(100 * explained).toFixed(4)} % | ${Math.max(1 - explained, 0).toExponential(1)} |`,
  );
}

interface Row {
  seed: number;
  exact: number;
  full: number;
  matched: number;
  independent: number;
  gap: number;
  offSubspace: number;
  llFull: number;
  llReduced: number;
  tvFull: number;
  tvReduced: number;
}
const rows: Row[] = [];
for (let seed = 1; seed <= SEEDS; seed++) {
  const rng = new SeededRandom(seed);
  const noise = Float32Array.from({ length: SAMPLES * DIM }, () => rng.normal());
  const exact = sampleMarginal(mixture, SAMPLES, new SeededRandom(1000 + seed));
  const fullSamples = await sampleDdim(full, schedule, STEPS, new SeededRandom(seed), {
    batch: SAMPLES,
    dim: DIM,
    initial: noise,
  });
  const matched = lift(
    await sampleDdim(reduced, schedule, STEPS, new SeededRandom(seed), {
      batch: SAMPLES,
      dim: RANK,
      initial: project(noise),
    }),
  );
  const independent = lift(
    await sampleDdim(reduced, schedule, STEPS, new SeededRandom(500 + seed), {
      batch: SAMPLES,
      dim: RANK,
    }),
  );
  let gap = 0;
  let offSubspace = 0;
  const onSubspace = lift(project(fullSamples));
  for (let i = 0; i < fullSamples.length; i++) {
    gap = Math.max(gap, Math.abs((fullSamples[i] ?? 0) - (matched[i] ?? 0)));
    offSubspace = Math.max(offSubspace, Math.abs((fullSamples[i] ?? 0) - (onSubspace[i] ?? 0)));
  }
  rows.push({
    seed,
    exact: sw(exact),
    full: sw(fullSamples),
    matched: sw(matched),
    independent: sw(independent),
    gap,
    offSubspace,
    llFull: meanLogLikelihood(mixture, fullSamples),
    llReduced: meanLogLikelihood(mixture, matched),
    tvFull: modeCoverage(mixture, fullSamples),
    tvReduced: modeCoverage(mixture, matched),
  });
}

console.log(
  "\n| noise seed | exact samples | full model (d = 64) | reduced (k = 8), same noise | ratio | reduced, independent noise | ratio | max abs full − reduced | full samples off the subspace |\n|---|---|---|---|---|---|---|---|---|",
);
const f = (x: number) => x.toFixed(4);
for (const r of rows) {
  console.log(
    `| ${r.seed} | ${f(r.exact)} | ${f(r.full)} | ${f(r.matched)} | ${(r.matched / r.full).toFixed(3)} | ${f(r.independent)} | ${(r.independent / r.full).toFixed(3)} | ${r.gap.toExponential(1)} | ${r.offSubspace.toExponential(1)} |`,
  );
}
const mean = (pick: (r: Row) => number) => rows.reduce((s, r) => s + pick(r), 0) / rows.length;
console.log(
  `\n| measure (mean over seeds) | full model | reduced, same noise |\n|---|---|---|\n| sliced W₂ | ${f(mean((r) => r.full))} | ${f(mean((r) => r.matched))} |\n| mean log-likelihood (on the subspace) | ${mean((r) => r.llFull).toFixed(3)} | ${mean((r) => r.llReduced).toFixed(3)} |\n| mode coverage TV | ${f(mean((r) => r.tvFull))} | ${f(mean((r) => r.tvReduced))} |\n| sampler state per sample | ${DIM} floats | ${RANK} floats (${(RANK / DIM).toFixed(3)}×) |\n| denoiser input + output layer weights | ${String(folded.result.statistics?.["denoiser-folded-weights"]).replace(" → ", " | ")} |`,
);
const worst = Math.max(...rows.map((r) => r.matched / r.full));
const independentMean = mean((r) => r.independent) / mean((r) => r.full);
console.log(
  `\nindependent noise: mean sliced W₂ ratio ${independentMean.toFixed(3)} (sampling noise of ${SAMPLES} points: exact samples score ${f(mean((r) => r.exact))})`,
);
console.log(
  `floor: sliced W₂ of the reduced-space diffusion ≤ 1.1× the full model's (same noise, worst seed): ${worst.toFixed(3)} ${worst <= 1.1 ? "PASS" : "FAIL"}`,
);
if (worst > 1.1) process.exitCode = 1;
