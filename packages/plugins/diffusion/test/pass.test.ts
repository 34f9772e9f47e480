import {
  createBuilder,
  createCpuSessions,
  DataType,
  isLatheError,
  runPassStandalone,
  singleModelBundle,
} from "@lathe/core";
import { maxAbsDiff } from "@lathe/core/testing";
import { buildZooModel, zooModels } from "@lathe/plugin-zoo";
import { describe, expect, it } from "vitest";
import { distillSteps, drawSamples, gmmQuality, trajectoryErrorMetric } from "../src/index.js";

const gmm = buildZooModel(zooModels, "gmm-diffusion", { size: "d16" }).bundle;
const sessions = createCpuSessions();

describe("diffusion/distill-steps", () => {
  it("learns a schedule no worse than any baseline on held-out noises and writes a one-session sampler", async () => {
    const run = await runPassStandalone(distillSteps, gmm, {
      options: { steps: 4, samples: 48, teacherSteps: 60, refineRuns: 60 },
    });
    const stats = run.result.statistics!;
    const baselines = ["uniform-t", "edm", "logsnr", "kl-optimal"].map(
      (k) => stats[`baseline.${k}`] as number,
    );
    const searches = ["gits", "oss", "refine"].map((k) => stats[`search.${k}`] as number);
    expect(baselines.every(Number.isFinite)).toBe(true);
    expect(stats["endpoint-rmse"]).toBe(Math.min(...searches));
    // refine starts from the best of the others on the training rows: it keeps the validation error it found there or better.
    expect(stats["search.refine"]).toBeLessThanOrEqual(Math.max(...baselines));
    expect(String(stats.timesteps).split(",")).toHaveLength(4);

    const bundle = run.result.bundle;
    expect([...bundle.components.keys()]).toEqual(["sampler"]);
    const meta = bundle.metadata.sampler as { timesteps: number[]; steps: number };
    expect(meta.steps).toBe(4);
    expect(meta.timesteps[0]).toBe(999);
    // The sampler bundle samples in one ONNX Runtime call; the samples are the mixture's.
    const drawn = await drawSamples(bundle, sessions, { count: 256, seed: 5 });
    expect(drawn.dims).toEqual([256, 16]);
    const teacher = await drawSamples(gmm, sessions, { count: 256, seed: 5 });
    const reference = gmmQuality((gmm.metadata as { mixture: never }).mixture, teacher);
    const ours = gmmQuality((gmm.metadata as { mixture: never }).mixture, drawn);
    expect(ours["sliced-wasserstein"]).toBeLessThan(3 * reference["sliced-wasserstein"]!);
    expect(maxAbsDiff(drawn.values, teacher.values)).toBeGreaterThan(0);
  });

  it("is measured by diffusion/trajectory-error against the reference's teacher", async () => {
    const run = await runPassStandalone(distillSteps, gmm, {
      options: { steps: 3, samples: 16, teacherSteps: 40, method: "gits", baselines: [] },
    });
    const cache = new Map<string, Promise<unknown>>();
    const context = {
      sessions,
      reference: gmm,
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
      options: { samples: 16, teacherSolver: "dpmpp-2m" as const, teacherSteps: 200 },
    } as never;
    const sampler = await trajectoryErrorMetric.measure(run.result.bundle, context);
    const itself = await trajectoryErrorMetric.measure(gmm, context);
    expect(itself.rmse).toBe(0);
    expect(sampler.rmse).toBeGreaterThan(0);
    expect(sampler["relative-rmse"]).toBeLessThan(1);
  });

  it("refuses a model without a noise schedule, naming the metadata to add", async () => {
    const b = createBuilder({ opset: 17 });
    b.output(b.Identity(b.input("sample", DataType.FLOAT, [1, 2])), "y");
    b.input("timestep", DataType.FLOAT, [1]);
    const error = await runPassStandalone(distillSteps, singleModelBundle(b.build())).catch(
      (e: unknown) => e,
    );
    expect(isLatheError(error)).toBe(true);
    expect(String((error as Error).message)).toMatch(/noise schedule/);
    expect((error as { hint: string }).hint).toMatch(/diffusion: \{ prediction/);
  });
});
