import { stat } from "node:fs/promises";
import { join } from "node:path";
import { createBuilder, DataType, saveModel } from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { saveOnnx, tinyGpt2 } from "../../core/test/evaluate/noisy-model.js";
import { isBuilt, lathe, SKIP_REASON } from "./cli-helpers.js";

const built = isBuilt("bench");
let dir: string;
const tempDir = tempDirs(afterAll);

describe.skipIf(!built)(`lathe bench${built ? "" : ` (skipped: ${SKIP_REASON})`}`, () => {
  beforeAll(async () => {
    dir = tempDir("lathe-cli-bench-");
    await saveOnnx(tinyGpt2(), join(dir, "model.onnx"));
  });

  const FAST = ["--warmup", "1", "--runs", "5", "--min-time", "0", "--threads", "1"];

  it("reports latency, memory and size as JSON", async () => {
    const { status, stdout, stderr } = lathe(
      ["bench", "model.onnx", "--shape", "input_ids=1x16", ...FAST, "--json"],
      dir,
    );
    expect(stderr).toBe("");
    expect(status).toBe(0);
    const { values, target } = JSON.parse(stdout);
    expect(target.shapes).toEqual({ input_ids: [1, 16] });
    const l = values.latency;
    expect(l.runs).toBeGreaterThanOrEqual(5);
    expect(l.min).toBeGreaterThan(0);
    expect(l.min).toBeLessThanOrEqual(l.p50);
    expect(l.p50).toBeLessThanOrEqual(l.p90);
    expect(l.p90).toBeLessThanOrEqual(l.p99);
    expect(l.p99).toBeLessThanOrEqual(l.max);
    // 16 tokens per run: tokens/s is 16 × items/s.
    expect(l.tokensPerSecond).toBeCloseTo(16 * l.throughput, 6);
    expect(values.memory.peak).toBeGreaterThan(values.memory.baseline);
    const bytes =
      (await stat(join(dir, "model.onnx"))).size + (await stat(join(dir, "model.onnx.data"))).size;
    expect(values.size.bytes).toBe(bytes);
  });

  it("prints a table", () => {
    const { status, stdout } = lathe(
      ["bench", "model.onnx", "--shape", "input_ids=1x8", ...FAST, "--no-memory"],
      dir,
    );
    expect(status).toBe(0);
    expect(stdout).toMatch(/latency\s+p50\s+[\d.]+ ms/);
    expect(stdout).toMatch(/size\s+bytes\s+[\d.]+ kB/);
    expect(stdout).not.toMatch(/memory/);
  });

  it("rejects a malformed --shape and a missing model with a hint", () => {
    const bad = lathe(["bench", "model.onnx", "--shape", "input_ids=1by16"], dir);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--shape input_ids=1by16: expected name=dims/);
    const unbound = lathe(["bench", "model.onnx", "--no-memory"], dir);
    expect(unbound.status).toBe(1);
    expect(unbound.stderr).toMatch(/symbolic dim "batch_size"/);
    expect(unbound.stderr).toMatch(/hint: .*--shape input_ids=/);
    const missing = lathe(["bench", "nope.onnx"], dir);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/nope\.onnx/);
  });

  it("measures a model whose only symbolic dim is a batch at batch 1, and says so", async () => {
    const b = createBuilder({ opset: 17 });
    b.output(b.Relu(b.input("x", DataType.FLOAT, ["batch_size", 4])), "y");
    await saveModel(b.build(), join(dir, "batch.onnx"));
    const result = lathe(["bench", "batch.onnx", ...FAST, "--no-memory"], dir);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("note: x: batch_size = 1 (a batch-like dim without --shape)");
  });
});
