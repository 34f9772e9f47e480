import { join } from "node:path";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addNoise, saveOnnx, tinyGpt2 } from "../../core/test/evaluate/noisy-model.js";
import { isBuilt, lathe, SKIP_REASON } from "./cli-helpers.js";

const built = isBuilt("compare");
let dir: string;
const tempDir = tempDirs(afterAll);

describe.skipIf(!built)(`lathe compare${built ? "" : ` (skipped: ${SKIP_REASON})`}`, () => {
  beforeAll(async () => {
    dir = tempDir("lathe-cli-compare-");
    await saveOnnx(tinyGpt2(), join(dir, "model.onnx"));
    await saveOnnx(
      addNoise(tinyGpt2(), "transformer.h.0.mlp.c_fc.weight", 0.3),
      join(dir, "noisy.onnx"),
    );
    // The same weights saved again, under another name.
    await saveOnnx(tinyGpt2(), join(dir, "same.onnx"));
  });

  const FAST = ["--warmup", "1", "--runs", "3", "--min-time", "0", "--threads", "1"];

  it("reports plausible fidelity for a copy with noise added to one weight", () => {
    const { status, stdout, stderr } = lathe(
      [
        "compare",
        "model.onnx",
        "noisy.onnx",
        "same.onnx",
        "--shape",
        "input_ids=1x32",
        ...FAST,
        "--json",
      ],
      dir,
    );
    expect(stderr).toBe("");
    expect(status).toBe(0);
    const { reference, candidates } = JSON.parse(stdout);
    expect(reference.values.fidelity).toMatchObject({ relL2: 0, top1: 1 });
    const [noisy, same] = candidates;
    const f = noisy.values.fidelity;
    expect(f.relL2).toBeGreaterThan(0);
    expect(f.relL2).toBeLessThan(0.3);
    expect(f.cosine).toBeGreaterThan(0.99);
    expect(f.cosine).toBeLessThan(1);
    expect(f.top1).toBeLessThan(1);
    expect(f.top1).toBeGreaterThan(0.8);
    expect(f.top5).toBeGreaterThan(0.7);
    expect(f.kl).toBeGreaterThan(0);
    expect(f.maxAbs).toBeGreaterThan(0);
    expect(noisy.sizeRatio).toBeCloseTo(1, 2);
    expect(noisy.latencyRatio).toBeGreaterThan(0);
    // The same weights saved again: exact agreement.
    expect(same.values.fidelity).toMatchObject({ relL2: 0, maxAbs: 0, top1: 1, top5: 1, kl: 0 });
  });

  it("prints a table with fidelity, latency and size ratios", () => {
    const { status, stdout } = lathe(
      ["compare", "model.onnx", "noisy.onnx", "--shape", "input_ids=1x8", ...FAST],
      dir,
    );
    expect(status).toBe(0);
    const [title, header, row] = stdout.trimEnd().split("\n");
    expect(title).toBe("reference: model.onnx");
    expect(header!.trim().split(/\s{2,}/)).toEqual([
      "candidate",
      "relL2",
      "cosine",
      "maxAbs",
      "top1",
      "top5",
      "kl",
      "p50",
      "latency ×",
      "size",
      "size ×",
    ]);
    expect(row).toMatch(/^\s+noisy\.onnx\s+0\.\d+/);
    expect(row).toMatch(/1\.00×$/);
  });

  it("compares fidelity and size only with --no-latency", () => {
    const { status, stdout } = lathe(
      ["compare", "model.onnx", "noisy.onnx", "--shape", "input_ids=2x4", "--no-latency", "--json"],
      dir,
    );
    expect(status).toBe(0);
    const { candidates } = JSON.parse(stdout);
    expect(candidates[0].values.latency).toBeUndefined();
    expect(candidates[0].latencyRatio).toBeUndefined();
  });
});
