import { stat } from "node:fs/promises";
import { join } from "node:path";
import {
  artifactSize,
  fidelityMetric,
  latencyMetric,
  type MetricContext,
  measureChildMemory,
  memoryMetric,
  singleModelBundle,
  sizeMetric,
} from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addNoise, saveOnnx, tinyGpt2 } from "./noisy-model.js";

const tempDir = tempDirs(afterAll);

const root = tempDir("lathe-metrics-");
let referencePath: string;
let noisyPath: string;

beforeAll(async () => {
  referencePath = await saveOnnx(tinyGpt2(), join(root, "ref", "model.onnx"));
  noisyPath = await saveOnnx(
    addNoise(tinyGpt2(), "transformer.h.0.mlp.c_fc.weight", 0.5),
    join(root, "noisy", "model.onnx"),
  );
});

function context<O>(candidatePath: string, options: O): MetricContext & { options: O } {
  const shared = new Map<string, Promise<unknown>>();
  return {
    sessions: undefined as never,
    reference: singleModelBundle(tinyGpt2()),
    candidatePath,
    referencePath,
    target: {
      providers: ["cpu"],
      fallback: false,
      threads: 1,
      shapes: { input_ids: [1, 8], attention_mask: [1, 8], position_ids: [1, 8] },
    },
    seed: 0,
    data: () => {
      throw new Error("no data");
    },
    resolve: (path) => path,
    logger: { debug() {}, info() {}, warn() {} },
    shared: <T>(key: string, compute: () => Promise<T>) => {
      if (!shared.has(key)) shared.set(key, compute());
      return shared.get(key) as Promise<T>;
    },
    signal: new AbortController().signal,
    options,
  };
}

describe("built-in metrics on the zoo's tiny gpt2", () => {
  it("size counts the .onnx file and its external data", async () => {
    const size = await artifactSize(referencePath);
    expect(size.externalBytes).toBe((await stat(join(root, "ref", "model.onnx.data"))).size);
    expect(size.onnxBytes).toBe((await stat(referencePath)).size);
    expect(size.externalBytes).toBeGreaterThan(size.onnxBytes);
    const measured = await sizeMetric.measure(undefined as never, context(referencePath, {}));
    expect(measured.bytes).toBe(size.onnxBytes + size.externalBytes);
  });

  it("fidelity of the reference with itself is exact", async () => {
    const f = await fidelityMetric.measure(
      undefined as never,
      context(referencePath, { samples: 2 }),
    );
    expect(f).toMatchObject({ relL2: 0, cosine: 1, maxAbs: 0, kl: 0, top1: 1, top5: 1 });
    expect(f["logits.top1"]).toBe(1);
  });

  it("fidelity of a copy with a noisy weight is high but not exact", async () => {
    const f = await fidelityMetric.measure(undefined as never, context(noisyPath, { samples: 2 }));
    expect(f.relL2).toBeGreaterThan(0);
    expect(f.relL2).toBeLessThan(0.5);
    expect(f.cosine).toBeGreaterThan(0.8);
    expect(f.cosine).toBeLessThan(1);
    expect(f.kl).toBeGreaterThan(0);
    expect(f.top1).toBeGreaterThan(0.3);
    expect(f.top5).toBeGreaterThan(0.3);
    expect(f.top1).toBeLessThanOrEqual(1);
  });

  it("latency reports percentiles in order and tokens per second", async () => {
    const l = await latencyMetric.measure(
      undefined as never,
      context(referencePath, { warmup: 1, runs: 5, minTimeMs: 0, maxRuns: 5 }),
    );
    expect(l.runs).toBe(5);
    expect(l.min).toBeGreaterThan(0);
    expect(l.min).toBeLessThanOrEqual(l.p50!);
    expect(l.p50).toBeLessThanOrEqual(l.p90!);
    expect(l.p90).toBeLessThanOrEqual(l.max!);
    expect(l.tokensPerSecond).toBeCloseTo((8 * 1000) / l.p50!);
    expect(l.throughput).toBeCloseTo(1000 / l.p50!);
  });

  it("memory is measured in a child process, above its Node + ORT baseline", async () => {
    const m = await memoryMetric.measure(undefined as never, context(referencePath, { runs: 1 }));
    expect(m.baseline).toBeGreaterThan(10 * 2 ** 20);
    expect(m.peak).toBeGreaterThan(m.baseline!);
    expect(m.model).toBe(m.peak! - m.baseline!);
    // Not this process's RSS: the child loads only the model.
    expect(m.peak).toBeLessThan(process.memoryUsage().rss * 4);
    await expect(
      measureChildMemory(
        join(root, "missing.onnx"),
        {},
        { providers: ["cpu"], threads: 1, runs: 1 },
      ),
    ).rejects.toThrow(/^the memory child process failed: .*missing\.onnx/);
  });
});
