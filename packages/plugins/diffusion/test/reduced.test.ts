import {
  createCpuSessions,
  DataType,
  isLatheError,
  type ModelBundle,
  runPassStandalone,
  SeededRandom,
  Tensor,
} from "@lathe/core";
import { maxAbsDiff } from "@lathe/core/testing";
import { pcaChannels } from "@lathe/plugin-latent";
import { gmmDiffusion, readGmmMetadata, sampleMarginal } from "@lathe/plugin-zoo";
import { describe, expect, it } from "vitest";
import {
  distillSteps,
  drawSamples,
  gmmQualityMetric,
  reducedSpace,
  trajectoryErrorMetric,
} from "../src/index.js";

const sessions = createCpuSessions();
const DIM = 64;
const RANK = 8;
// Zoo gmm-diffusion with its data on an 8-dimensional subspace of d = 64.
const config = { ...gmmDiffusion.presets.d64, subspace: RANK } as never;
const original = gmmDiffusion.build(config, { seed: 2 });
const { mixture } = readGmmMetadata(original);
const data = sampleMarginal(mixture, 512, new SeededRandom(1));

/** latent/pca-channels with `denoiser`: diffusion runs in k dimensions of the data. */
async function fold(k: number): Promise<ModelBundle> {
  const run = await runPassStandalone(pcaChannels, gmmDiffusion.build(config, { seed: 2 }), {
    options: { denoiser: "model", k, samples: 512, data: "train" },
    data: { train: [{ sample: Tensor.fromArray(DataType.FLOAT, [512, DIM], data) }] },
  });
  return run.result.bundle;
}

/** The bundle as it was before drawSamples lifted: the same graphs without the basis. */
function withoutBasis(bundle: ModelBundle): ModelBundle {
  const { latentPca: _, ...metadata } = bundle.metadata as Record<string, unknown>;
  return { components: bundle.components, metadata };
}

function metricContext(options: Record<string, unknown>) {
  const cache = new Map<string, Promise<unknown>>();
  return {
    sessions,
    reference: original,
    candidatePath: "",
    referencePath: "",
    target: { providers: ["cpu"] },
    seed: 0,
    data: () => {
      throw new Error("no data");
    },
    logger: { debug() {}, info() {}, warn() {} },
    shared: <T>(key: string, compute: () => Promise<T>) => {
      if (!cache.has(key)) cache.set(key, compute());
      return cache.get(key) as Promise<T>;
    },
    signal: new AbortController().signal,
    options,
  } as never;
}

describe("drawSamples on a bundle that diffuses in k reduced dimensions (latent/pca-channels with denoiser)", () => {
  const folded = fold(RANK);
  const trajectory = { samples: 32, teacherSolver: "dpmpp-2m" as const, teacherSteps: 60 };

  it("draws the full model's noise projected by U_kᵀ and returns the samples lifted by U_k: the full model's samples", async () => {
    const bundle = await folded;
    expect(reducedSpace(bundle)).toMatchObject({ channels: DIM, k: RANK });
    const request = { count: 64, seed: 3, steps: 20 };
    const ours = await drawSamples(bundle, sessions, request);
    const full = await drawSamples(original, sessions, request);
    expect(ours.lifted).toEqual({ k: RANK, channels: DIM });
    expect(ours.dims).toEqual([64, DIM]);
    expect(full.lifted).toBeUndefined();
    expect(maxAbsDiff(ours.values, full.values)).toBeLessThan(2e-3);
  });

  it("gives diffusion/trajectory-error near 0 against the full model, which it refused before", async () => {
    const bundle = await folded;
    const error = await trajectoryErrorMetric.measure(bundle, metricContext(trajectory));
    expect(error["relative-rmse"]).toBeLessThan(1e-3);
    // Without the basis the k-dimensional samples cannot be compared at all.
    await expect(
      trajectoryErrorMetric.measure(withoutBasis(bundle), metricContext(trajectory)),
    ).rejects.toThrow(/dims \[32, 8\] but the teacher's \[32, 64\]/);
  });

  it("at k = C compares like with like: near 0 lifted, large in the rotated coordinates", async () => {
    const bundle = await fold(DIM);
    const lifted = await trajectoryErrorMetric.measure(bundle, metricContext(trajectory));
    const rotated = await trajectoryErrorMetric.measure(
      withoutBasis(bundle),
      metricContext(trajectory),
    );
    expect(lifted["relative-rmse"]).toBeLessThan(1e-3);
    expect(rotated["relative-rmse"]).toBeGreaterThan(0.5);
  });

  it("is scored by diffusion/gmm-quality as the full model, and refused there without the basis", async () => {
    const bundle = await folded;
    const context = metricContext({ samples: 256 });
    const ours = await gmmQualityMetric.measure(bundle, context);
    const full = await gmmQualityMetric.measure(original, context);
    expect(ours["sliced-wasserstein"]).toBeCloseTo(full["sliced-wasserstein"] ?? 0, 3);
    expect(ours["mode-coverage-tv"]).toBe(full["mode-coverage-tv"]);
    try {
      await gmmQualityMetric.measure(withoutBasis(bundle), context);
      throw new Error("no error");
    } catch (error) {
      expect(isLatheError(error) && error.code).toBe("DIFFUSION_METRIC_MISMATCH");
      expect(String(error)).toMatch(/8 values each but the mixture has 64 dimensions/);
    }
  });

  it("lifts the samples of a sampler that diffusion/distill-steps learned on the folded bundle", async () => {
    const run = await runPassStandalone(distillSteps, await folded, {
      options: { steps: 4, samples: 16, teacherSteps: 40, method: "gits", baselines: [] },
    });
    const sampler = run.result.bundle;
    expect((sampler.metadata.sampler as { sampleShape: number[] }).sampleShape).toEqual([RANK]);
    const drawn = await drawSamples(sampler, sessions, { count: 16, seed: 4 });
    expect(drawn.lifted).toEqual({ k: RANK, channels: DIM });
    expect(drawn.dims).toEqual([16, DIM]);
    const error = await trajectoryErrorMetric.measure(sampler, metricContext(trajectory));
    const unfolded = await runPassStandalone(distillSteps, original, {
      options: { steps: 4, samples: 16, teacherSteps: 40, method: "gits", baselines: [] },
    });
    const reference = await trajectoryErrorMetric.measure(
      unfolded.result.bundle,
      metricContext(trajectory),
    );
    // The 4-step sampler in 8 dimensions lands as close to the full teacher as one learned in 64.
    expect(error["relative-rmse"]).toBeLessThan(2 * (reference["relative-rmse"] ?? 0) + 1e-3);
  });
});
