import {
  encodeModel,
  isLatheError,
  type Model,
  SeededRandom,
  singleModelBundle,
  Tensor,
} from "@lathe/core";
import { float32Tensor, floatOutput, maxAbsDiff, openOrtSession } from "@lathe/core/testing";
import type * as ort from "onnxruntime-node";
import { beforeAll, describe, expect, it } from "vitest";
import { exactNoisePrediction } from "../src/models/gmm-analytic.js";
import { type GmmDiffusionConfig, gmmDiffusion } from "../src/models/gmm-diffusion.js";
import { type GmmMetadata, readGmmMetadata } from "../src/models/gmm-metadata.js";
import { marginalLogDensity, sampleMarginal } from "../src/models/gmm-mixture.js";
import { meanLogLikelihood, slicedWasserstein } from "../src/models/gmm-quality.js";
import { type Denoiser, inferenceTimesteps, sampleDdim } from "../src/models/gmm-sampler.js";
import { noiseSchedule } from "../src/models/gmm-schedule.js";
import { dimsOf } from "./helpers/graph.js";

const SEED = 7;
const tiny = gmmDiffusion.presets.tiny;

function build(overrides: Partial<GmmDiffusionConfig> = {}, seed = SEED) {
  const bundle = gmmDiffusion.build({ ...tiny, ...overrides }, { seed });
  const model = bundle.components.get("model");
  if (!model) throw new Error("the gmm-diffusion bundle has no `model` component");
  return { bundle, model, ...readGmmMetadata(bundle) };
}

/** The model as an ε-predictor: `timesteps` has one entry per row, or one for all rows. */
function ortDenoiser(session: ort.InferenceSession, dim: number): Denoiser {
  return async (sample, timesteps) => {
    const out = await session.run({
      sample: float32Tensor(sample, [sample.length / dim, dim]),
      timestep: float32Tensor(Float32Array.from(timesteps), [timesteps.length]),
    });
    expect(out.out_sample?.dims).toEqual([sample.length / dim, dim]);
    return floatOutput(out, "out_sample");
  };
}

function dimsOfPort(model: Model, name: string) {
  return dimsOf([...model.graph.inputs, ...model.graph.outputs].find((v) => v.name === name));
}

/** Points drawn exactly from p_t, one timestep per row, cycling through `timesteps`. */
function pointsAt({ mixture, schedule }: GmmMetadata, timesteps: number[], perStep: number) {
  const rng = new SeededRandom(11);
  const rows = timesteps.flatMap((t) => Array<number>(perStep).fill(t));
  const samples = new Float32Array(rows.length * mixture.dim);
  timesteps.forEach((t, i) => {
    const block = sampleMarginal(mixture, perStep, rng, schedule.alphasCumprod[t]);
    samples.set(block, i * perStep * mixture.dim);
  });
  return { samples, rows, alphaBars: rows.map((t) => schedule.alphasCumprod[t] ?? 0) };
}

const TIMESTEPS = [0, 1, 2, 10, 100, 500, 900, 990, 998, 999];

describe("zoo gmm-diffusion", () => {
  let tinyModel: ReturnType<typeof build>;
  let tinySession: ort.InferenceSession;

  beforeAll(async () => {
    tinyModel = build();
    tinySession = await openOrtSession(tinyModel.model);
  });

  it("builds tiny as torch.onnx.export writes the module, with UNet-export names", () => {
    const { model } = tinyModel;
    expect(model.producerName).toBe("pytorch");
    // torch ≤ 2.0 names the graph torch_jit (main_graph from 2.1)
    expect([model.producerVersion, model.graph.name]).toEqual(["2.0.1", "torch_jit"]);
    expect(model.opset()).toBe(14);
    expect(model.graph.inputs.map((v) => v.name)).toEqual(["sample", "timestep"]);
    expect(dimsOfPort(model, "sample")).toEqual(["batch_size", 2]);
    expect(dimsOfPort(model, "timestep")).toEqual(["steps"]);
    expect(model.graph.outputs.map((v) => v.name)).toEqual(["out_sample"]);
    expect(dimsOfPort(model, "out_sample")).toEqual(["batch_size", 2]);
    const shapes = Object.fromEntries(
      [...model.graph.initializers].map(([name, v]) => [name, v.constValue?.dims]),
    );
    expect(shapes).toEqual({
      alphas_cumprod: [1000],
      log_weights: [3],
      means: [3, 2],
      variances: [3, 2],
    });
    // The pattern: ᾱ gathered by the cast timestep, the per-component Gaussian energies, and
    // the posterior Softmax over components weighting the scaled differences.
    const ops = model.graph
      .nodes()
      .map((n) => n.opType)
      .filter((op) => op !== "Constant");
    expect(ops).toEqual([
      "Cast",
      "Gather",
      "Unsqueeze",
      "Sub",
      "Sqrt",
      "Unsqueeze",
      "Mul",
      "Sub",
      "Add",
      "Unsqueeze",
      "Sqrt",
      "Unsqueeze",
      "Mul",
      "Sub",
      "Div",
      "Mul",
      "Log",
      "Add",
      "ReduceSum",
      "Mul",
      "Sub",
      "Softmax",
      "Unsqueeze",
      "Mul",
      "ReduceSum",
      "Mul",
    ]);
  });

  it("carries the schedule and the mixture in the metadata and metadata_props", () => {
    const { bundle, model, schedule, mixture } = tinyModel;
    expect(schedule.numTrainTimesteps).toBe(1000);
    expect(schedule.predictionType).toBe("epsilon");
    expect(schedule.alphasCumprod[0]).toBe(Math.fround(1 - 1e-4));
    // DDPM's linear schedule ends at ᾱ ≈ 4.04e-5 (sqrt(ᾱ_T) ≈ 0.0064).
    expect(schedule.alphasCumprod[999]).toBeCloseTo(4.036e-5, 7);
    const table = model.graph.initializers.get("alphas_cumprod")?.constValue;
    if (!(table instanceof Tensor)) throw new Error("alphas_cumprod is not a dense initializer");
    expect(Array.from(table.toArray() as Float32Array)).toEqual(schedule.alphasCumprod);
    expect(JSON.parse(model.metadataProps.get("alphas_cumprod") ?? "[]")).toEqual(
      schedule.alphasCumprod,
    );
    expect(JSON.parse(model.metadataProps.get("scheduler_config") ?? "{}")).toMatchObject({
      num_train_timesteps: 1000,
      beta_schedule: "linear",
      prediction_type: "epsilon",
    });
    expect(mixture.weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(bundle.metadata.config).toEqual(tiny);
    // The metadata survives JSON (a report or cache writes it so).
    const copy = singleModelBundle(tinyModel.model, JSON.parse(JSON.stringify(bundle.metadata)));
    expect(readGmmMetadata(copy).mixture).toEqual(mixture);
  });

  it("refuses metadata that is not a gmm-diffusion model's", () => {
    const foreign = singleModelBundle(tinyModel.model, { schedule: { betas: [] } });
    expect(() => readGmmMetadata(foreign)).toThrow(/no valid `schedule`/);
  });

  it("predicts the analytic ε̂ within 1e-4 from t = 0 to T − 1 on ORT", async () => {
    const denoise = ortDenoiser(tinySession, 2);
    const fromMarginal = pointsAt(tinyModel, TIMESTEPS, 64);
    const rng = new SeededRandom(5);
    const anywhere = Float32Array.from(fromMarginal.samples, () => 2 * rng.normal());
    for (const samples of [fromMarginal.samples, anywhere]) {
      const got = await denoise(samples, fromMarginal.rows);
      const expected = exactNoisePrediction(tinyModel.mixture, samples, fromMarginal.alphaBars);
      expect(maxAbsDiff(got, expected)).toBeLessThan(1e-4);
      // Not vacuous: ε̂ is of order one and differs from the input.
      expect(Math.max(...expected.map(Math.abs))).toBeGreaterThan(1);
    }
  });

  it.each([
    { name: "d16", overrides: { dim: 16, components: 8 } },
    {
      name: "d16 isotropic, cosine",
      overrides: { dim: 16, components: 8, covariance: "isotropic", schedule: "squaredcos_cap_v2" },
    },
    {
      name: "d64 scaled_linear",
      overrides: { dim: 64, components: 16, schedule: "scaled_linear" },
    },
  ] as const)("predicts the analytic ε̂ within 1e-4 for $name", async ({ overrides }) => {
    const built = build(overrides);
    const session = await openOrtSession(built.model);
    const { samples, rows, alphaBars } = pointsAt(built, TIMESTEPS, 16);
    const got = await ortDenoiser(session, built.mixture.dim)(samples, rows);
    expect(maxAbsDiff(got, exactNoisePrediction(built.mixture, samples, alphaBars))).toBeLessThan(
      1e-4,
    );
  });

  it("broadcasts a single timestep over the batch", async () => {
    const denoise = ortDenoiser(tinySession, 2);
    const { samples } = pointsAt(tinyModel, [500], 32);
    const perRow = await denoise(samples, Array<number>(32).fill(500));
    expect(maxAbsDiff(await denoise(samples, [500]), perRow)).toBeLessThan(1e-6);
  });

  it("has the analytic ε̂ equal to −sqrt(1 − ᾱ)·∇ log p_t (finite differences)", () => {
    const { mixture, schedule } = tinyModel;
    const h = 1e-5;
    for (const t of [0, 50, 500, 999]) {
      const alphaBar = schedule.alphasCumprod[t] ?? 0;
      const { samples } = pointsAt(tinyModel, [t], 8);
      const analytic = exactNoisePrediction(mixture, samples, Array<number>(8).fill(alphaBar));
      for (let i = 0; i < samples.length; i++) {
        const point = Float64Array.from(samples.subarray(i - (i % 2), i - (i % 2) + 2));
        const j = i % 2;
        point[j] = (point[j] ?? 0) + h;
        const up = marginalLogDensity(mixture, point, alphaBar);
        point[j] = (point[j] ?? 0) - 2 * h;
        const down = marginalLogDensity(mixture, point, alphaBar);
        const numeric = -Math.sqrt(1 - alphaBar) * ((up - down) / (2 * h));
        expect(analytic[i]).toBeCloseTo(numeric, 4);
      }
    }
  });

  it("samples close to the mixture with 50 DDIM steps through ORT, and measurably worse with 5", async () => {
    const { mixture, schedule } = tinyModel;
    const denoise = ortDenoiser(tinySession, 2);
    const batch = 4000;
    const exact = sampleMarginal(mixture, batch, new SeededRandom(1));
    const fine = await sampleDdim(denoise, schedule, 50, new SeededRandom(2), { batch, dim: 2 });
    const coarse = await sampleDdim(denoise, schedule, 5, new SeededRandom(2), { batch, dim: 2 });
    const [exactSw, fineSw, coarseSw] = [exact, fine, coarse].map((s) =>
      slicedWasserstein(mixture, s),
    );
    // Measured (seed 7): exact 0.009, 50 steps 0.020, 5 steps 0.203. The tolerance is about the
    // sampling noise of 4000 points: 50 steps meet it, 5 steps miss it several times over.
    const tolerance = 0.03;
    expect(Math.abs((fineSw ?? 0) - (exactSw ?? 0))).toBeLessThan(tolerance);
    expect((coarseSw ?? 0) - (exactSw ?? 0)).toBeGreaterThan(4 * tolerance);
  });

  it("scores exact samples of one Gaussian at its negative entropy", () => {
    const variances = [0.04, 0.25, 1];
    const gaussian = {
      dim: 3,
      covariance: "diagonal",
      weights: [1],
      means: [[1, -2, 0]],
      variances: [variances],
    } as const;
    const samples = sampleMarginal(gaussian, 4000, new SeededRandom(3));
    const negativeEntropy =
      -0.5 * variances.reduce((sum, v) => sum + 1 + Math.log(2 * Math.PI * v), 0);
    // The mean of 4000 log-densities has a standard error of sqrt(3/2)/sqrt(4000) ≈ 0.02.
    expect(meanLogLikelihood(gaussian, samples)).toBeCloseTo(negativeEntropy, 1);
    expect(slicedWasserstein(gaussian, samples)).toBeLessThan(0.05);
    const shifted = samples.map((x) => x + 0.5);
    expect(slicedWasserstein(gaussian, shifted)).toBeGreaterThan(0.2);
  });

  it("is deterministic: the same seed gives the same model and the same samples", async () => {
    expect(encodeModel(build().model)).toEqual(encodeModel(tinyModel.model));
    expect(build({}, SEED + 1).mixture.means).not.toEqual(tinyModel.mixture.means);
    const denoise = ortDenoiser(tinySession, 2);
    const run = () =>
      sampleDdim(denoise, tinyModel.schedule, 10, new SeededRandom(4), {
        batch: 64,
        dim: 2,
        eta: 1,
      });
    expect(await run()).toEqual(await run());
  });

  it("visits diffusers' DDIM timesteps for each spacing", () => {
    expect(inferenceTimesteps(1000, 5, "trailing")).toEqual([999, 799, 599, 399, 199]);
    expect(inferenceTimesteps(1000, 5, "leading")).toEqual([800, 600, 400, 200, 0]);
    expect(inferenceTimesteps(1000, 5, "linspace")).toEqual([999, 749, 500, 250, 0]);
    expect(() => inferenceTimesteps(1000, 0)).toThrow(/0 sampling steps/);
  });

  it("follows diffusers' beta schedules", () => {
    // Stable Diffusion's terminal ᾱ is 0.0047 ("Common Diffusion Noise Schedules and Sample
    // Steps are Flawed", 2023); the cosine schedule's last β is capped at 0.999.
    expect(noiseSchedule("scaled_linear", 1000).alphasCumprod[999]).toBeCloseTo(0.0047, 4);
    const cosine = noiseSchedule("squaredcos_cap_v2", 1000);
    expect(cosine.betas[999]).toBeCloseTo(0.999, 6);
    // The product of (1 − β) telescopes: ᾱ_t = ᾱ((t + 1)/T) / ᾱ(0) below the cap.
    const alphaBar = (t: number) => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
    expect(cosine.alphasCumprod[499]).toBeCloseTo(alphaBar(0.5) / alphaBar(0), 6);
  });

  it("rejects a bad config with the key and what to do", () => {
    const attempt = (overrides: Record<string, unknown>) => {
      try {
        gmmDiffusion.build({ ...tiny, ...overrides } as GmmDiffusionConfig, { seed: 0 });
      } catch (error) {
        return error;
      }
      throw new Error("the build succeeded");
    };
    const zeroDim = attempt({ dim: 0 });
    expect(isLatheError(zeroDim) && zeroDim.code).toBe("ZOO_CONFIG_INVALID");
    expect(String((zeroDim as Error).message)).toMatch(/"dim".*at least 1/);
    expect(String((attempt({ schedule: "cosine" }) as Error).message)).toMatch(
      /one of linear, scaled_linear, squaredcos_cap_v2/,
    );
  });
});

describe("zoo gmm-diffusion with data on a subspace (subspace=r)", () => {
  const onSubspace = () => build({ dim: 64, components: 16, subspace: 8 });

  it("draws data on an r-dimensional subspace through the origin, with proj_in/proj_out layers", () => {
    const { model, mixture } = onSubspace();
    const axes = mixture.axes ?? [];
    expect([axes.length, mixture.subspace]).toEqual([64, 8]);
    // The axes are orthonormal (to float32 rounding).
    let worst = 0;
    for (let i = 0; i < 64; i++)
      for (let j = 0; j < 64; j++) {
        const dot = (axes[i] ?? []).reduce((s, v, n) => s + v * (axes[j]?.[n] ?? 0), 0);
        worst = Math.max(worst, Math.abs(dot - (i === j ? 1 : 0)));
      }
    expect(worst).toBeLessThan(1e-6);
    // Data samples have no component along the axes past the subspace, and do have some in it.
    const data = sampleMarginal(mixture, 200, new SeededRandom(2));
    let off = 0;
    let on = 0;
    for (let r = 0; r < 200; r++)
      for (let i = 0; i < 64; i++) {
        const along = (axes[i] ?? []).reduce((s, v, n) => s + v * (data[r * 64 + n] ?? 0), 0);
        if (i < 8) on = Math.max(on, Math.abs(along));
        else off = Math.max(off, Math.abs(along));
      }
    expect(off).toBeLessThan(1e-5);
    expect(on).toBeGreaterThan(1);
    // The rotation sits in an input and an output layer, MatMuls by the exporter's folded W.T.
    const first = model.graph.inputs[0]?.uses()[0]?.node;
    const last = model.graph.outputs[0]?.producer();
    expect([first?.name, first?.opType, last?.name, last?.opType]).toEqual([
      "/proj_in/MatMul",
      "MatMul",
      "/proj_out/MatMul",
      "MatMul",
    ]);
    expect(model.graph.initializers.size).toBe(6);
  });

  it("predicts the analytic ε̂ within 1e-4 on ORT, which equals −sqrt(1 − ᾱ)·∇ log p_t", async () => {
    const built = onSubspace();
    const session = await openOrtSession(built.model);
    const { samples, rows, alphaBars } = pointsAt(built, TIMESTEPS, 8);
    const got = await ortDenoiser(session, 64)(samples, rows);
    const expected = exactNoisePrediction(built.mixture, samples, alphaBars);
    expect(maxAbsDiff(got, expected)).toBeLessThan(1e-4);
    expect(Math.max(...expected.map(Math.abs))).toBeGreaterThan(1);
    // The rotated formula against finite differences of the rotated density, at t = 500.
    const alphaBar = built.schedule.alphasCumprod[500] ?? 0;
    const point = Float64Array.from(samples.subarray(0, 64));
    const analytic = exactNoisePrediction(built.mixture, point, [alphaBar]);
    for (const j of [0, 17, 63]) {
      const h = 1e-5;
      point[j] = (point[j] ?? 0) + h;
      const up = marginalLogDensity(built.mixture, point, alphaBar);
      point[j] = (point[j] ?? 0) - 2 * h;
      const down = marginalLogDensity(built.mixture, point, alphaBar);
      point[j] = (point[j] ?? 0) + h;
      expect(analytic[j]).toBeCloseTo(-Math.sqrt(1 - alphaBar) * ((up - down) / (2 * h)), 4);
    }
  });

  it("scores exact data samples near zero, and noised ones (ᾱ = 0.9, partly off the subspace) far from it", () => {
    const { mixture } = onSubspace();
    const exact = sampleMarginal(mixture, 2000, new SeededRandom(4));
    const noisy = sampleMarginal(mixture, 2000, new SeededRandom(4), 0.9);
    const exactSw = slicedWasserstein(mixture, exact);
    expect(exactSw).toBeLessThan(0.05);
    expect(slicedWasserstein(mixture, noisy)).toBeGreaterThan(3 * exactSw);
    // The density on the subspace is finite for data.
    expect(Number.isFinite(meanLogLikelihood(mixture, exact))).toBe(true);
  });

  it("refuses a subspace that is not below dim", () => {
    expect(() => build({ dim: 4, subspace: 4 })).toThrow(/"subspace".*below dim = 4/);
  });
});
