/**
 * Static int8 calibrated on each real-data source (images, audio, text) through a recipe, as a
 * user runs it: progress counts the calibration records of every source (it once showed 0/0 and
 * never moved), a split keeps calibration and evaluation apart, and core/accuracy scores the
 * candidates against the labels that come with the images.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  builtinDataPlugin,
  builtinMetricsPlugin,
  createBuilder,
  DataType,
  loadPlugins,
  loadRecipe,
  type PipelineEvent,
  planRecipe,
  runPipeline,
  saveModel,
} from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import pngjs from "pngjs";
import { afterAll, describe, expect, it } from "vitest";
import quantizePlugin from "../src/index.js";

const tempDir = tempDirs(afterAll);

const root = tempDir("lathe-calibration-sources-");

const registry = await loadPlugins([], root, {
  builtins: [quantizePlugin, builtinDataPlugin, builtinMetricsPlugin],
});

function write(dir: string, files: Record<string, Buffer | string>): void {
  for (const [file, bytes] of Object.entries(files)) {
    mkdirSync(join(dir, file, ".."), { recursive: true });
    writeFileSync(join(dir, file), bytes);
  }
}

/** Runs the recipe; returns its report and the step's progress events. */
async function run(dir: string, recipe: string) {
  write(dir, { "recipe.yaml": recipe });
  const progress: { done: number; total: number }[] = [];
  const onEvent = (event: PipelineEvent) => {
    if (event.type === "step-progress" && event.step === "int8")
      progress.push({ done: event.done, total: event.total });
  };
  const loaded = await loadRecipe(join(dir, "recipe.yaml"), registry);
  const { report } = await runPipeline(planRecipe(loaded, registry), { onEvent });
  return { report, progress };
}

/** Progress started with the records' count and moved up to it (in batches of records). */
function expectCounted(progress: readonly { done: number; total: number }[], total: number) {
  expect(progress[0]).toEqual({ done: 0, total });
  expect(progress.at(-1)).toEqual({ done: total, total });
  expect(progress.every((p) => p.total === total)).toBe(true);
}

/** A solid-colour 4×4 PNG with a little texture. */
function png(rgb: readonly number[], seed: number): Buffer {
  const image = new pngjs.PNG({ width: 4, height: 4 });
  for (let p = 0; p < 16; p++) {
    const wobble = ((p * 7 + seed * 13) % 9) - 4;
    image.data.set([...rgb.map((v) => Math.max(0, Math.min(255, v + wobble))), 255], p * 4);
  }
  return pngjs.PNG.sync.write(image);
}

/** A mono float32 WAV at `rate`. */
function wav(rate: number, samples: readonly number[]): Buffer {
  const data = Buffer.alloc(samples.length * 4);
  samples.forEach((v, i) => {
    data.writeFloatLE(v, i * 4);
  });
  const header = Buffer.alloc(44);
  header.write("RIFF", 0, "latin1");
  header.writeUInt32LE(36 + data.length, 4);
  header.write("WAVEfmt ", 8, "latin1");
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(3, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 4, 28);
  header.writeUInt16LE(4, 32);
  header.writeUInt16LE(32, 34);
  header.write("data", 36, "latin1");
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

describe("static int8 calibrated on real-data sources", () => {
  it("images: a split feeds calibration and evaluation apart; accuracy against folder labels", async () => {
    const dir = mkdtempSync(join(root, "images-"));
    // Channel means → two class scores: blue minus red (class 0, "blue"), red minus blue ("red").
    const b = createBuilder({ opset: 17 });
    const x = b.input("image", DataType.FLOAT, [1, 3, 4, 4]);
    const identity = b.constant([1, 0, 0, 0, 1, 0, 0, 0, 1], [3, 3, 1, 1]);
    const pooled = b.Flatten(b.GlobalAveragePool(b.Conv(x, identity, undefined, {})), { axis: 1 });
    const w = b.constant([-1, 0, 1, 1, 0, -1], [2, 3]);
    b.output(b.Gemm(pooled, w, undefined, { transB: 1 }), "logits");
    await saveModel(b.build(), join(dir, "model.onnx"));
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 6; i++) {
      files[`pictures/red/${i}.png`] = png([200, 40, 30 + 10 * i], i);
      files[`pictures/blue/${i}.png`] = png([30 + 10 * i, 50, 210], i);
    }
    write(dir, files);
    const { report, progress } = await run(
      dir,
      `model: model.onnx
data:
  pictures:
    use: images
    options: { path: pictures, input: image, mean: [0.5], std: [0.25], labels: { from: folders } }
    split: { seed: 3, parts: { calib: 4, heldout: rest } }
passes:
  int8:
    use: quantize/static-int8
    options: { calibration: calib, calibrator: minmax, requireCalibration: true }
evaluate:
  metrics:
    core/accuracy: { data: heldout }
  constraints: ["accuracy.top1 >= 1"]
`,
    );
    expect(report.status).toBe("ok");
    expectCounted(progress, 4);
    const int8 = report.evaluation!.candidates.find((c) => c.step === "int8")!;
    expect(int8.values.accuracy).toEqual({ top1: 1, count: 8 });
    expect(report.evaluation!.reference.values.accuracy).toEqual({ top1: 1, count: 8 });
    expect(int8.accepted).toBe(true);
    expect(report.steps.find((s) => s.id === "int8")!.statistics?.["nodes-quantized"]).not.toBe(0);
  });

  it("audio: windows of resampled WAVs are the calibration records", async () => {
    const dir = mkdtempSync(join(root, "audio-"));
    const b = createBuilder({ opset: 17 });
    const x = b.input("audio", DataType.FLOAT, [1, 16]);
    const w = b.constant(
      Array.from({ length: 64 }, (_, i) => Math.sin(i)),
      [16, 4],
    );
    b.output(b.MatMul(x, w), "scores");
    await saveModel(b.build(), join(dir, "model.onnx"));
    const tone = (f: number) =>
      Array.from({ length: 40 }, (_, i) => 0.5 * Math.sin((2 * Math.PI * f * i) / 8000));
    write(dir, { "clips/a.wav": wav(8000, tone(300)), "clips/b.wav": wav(8000, tone(500)) });
    const { report, progress } = await run(
      dir,
      `model: model.onnx
data:
  speech:
    use: audio
    options: { path: clips, input: audio, sampleRate: 16000, window: { length: 16 } }
passes:
  int8:
    use: quantize/static-int8
    options: { calibration: speech, calibrator: percentile, requireCalibration: true }
`,
    );
    expect(report.status).toBe("ok");
    // 40 samples at 8 kHz → 80 at 16 kHz → 5 windows of 16 per file; percentile reads twice.
    expectCounted(progress, 2 * 10);
  });

  it("text: tokenized lines are the calibration records (the mask is not fed)", async () => {
    const dir = mkdtempSync(join(root, "text-"));
    const b = createBuilder({ opset: 17 });
    const ids = b.input("input_ids", DataType.INT64, [1, "sequence"]);
    const table = b.constant(
      Array.from({ length: 256 * 8 }, (_, i) => Math.cos(i / 7)),
      [256, 8],
    );
    const w = b.constant(
      Array.from({ length: 32 }, (_, i) => Math.sin(i / 3)),
      [8, 4],
    );
    b.output(b.MatMul(b.Gather(table, ids), w), "logits");
    await saveModel(b.build(), join(dir, "model.onnx"));
    write(dir, { "lines.txt": "the cat sat\non the mat\n\nand slept\n" });
    const { report, progress } = await run(
      dir,
      `model: model.onnx
data:
  prose:
    use: text
    options: { path: lines.txt, tokenizer: bytes, maxLength: 8, padding: max-length }
passes:
  int8:
    use: quantize/static-int8
    options: { calibration: prose, calibrator: entropy, requireCalibration: true }
`,
    );
    expect(report.status).toBe("ok");
    expectCounted(progress, 2 * 3);
  });

  it("a data set that does not fit the model's input is an error naming what to change", async () => {
    const dir = mkdtempSync(join(root, "mismatch-"));
    const b = createBuilder({ opset: 17 });
    const x = b.input("image", DataType.FLOAT, [1, 1, 4, 4]);
    const w = b.constant([1, -1], [2, 1, 1, 1]);
    b.output(b.Conv(x, w, undefined, {}), "maps");
    await saveModel(b.build(), join(dir, "model.onnx"));
    write(dir, { "pictures/a.png": png([10, 20, 30], 0) });
    const recipe = (options: string) => `model: model.onnx
data:
  pictures:
    use: images
    options: { path: pictures, ${options} }
passes:
  int8:
    use: quantize/static-int8
    options: { calibration: pictures }
`;
    const failure = (options: string) =>
      run(dir, recipe(options)).then(
        () => expect.unreachable("the step should fail"),
        (e: unknown) => e as Error & { hint?: string },
      );
    const channels = await failure("input: image");
    expect(channels.message).toMatch(
      /data "pictures": "image" is \[1, 3, 4, 4\] float32, but the model reads \[1, 1, 4, 4\] float32: dim 1 is 3, the model's is 1/,
    );
    expect(channels.hint).toMatch(/^the model reads one channel: set channels: gray; a reproducer/);
    const name = await failure("input: pixel_values");
    expect(name.message).toMatch(/its records hold "pixel_values", but the model reads "image"/);
    expect(name.hint).toMatch(/images\/audio: input: image/);
  });

  it("gptq: progress counts the records the data set has, when fewer than samples", async () => {
    const dir = mkdtempSync(join(root, "gptq-"));
    const b = createBuilder({ opset: 21 });
    const ids = b.input("input_ids", DataType.INT64, [1, "sequence"]);
    const table = b.constant(
      Array.from({ length: 256 * 32 }, (_, i) => Math.cos(i / 7)),
      [256, 32],
    );
    const w = b.constant(
      Array.from({ length: 32 * 64 }, (_, i) => Math.sin(i / 3)),
      [32, 64],
    );
    b.output(b.MatMul(b.Gather(table, ids), w), "logits");
    await saveModel(b.build(), join(dir, "model.onnx"));
    write(dir, { "lines.txt": "the cat sat\non the mat\nand slept\n" });
    const { report, progress } = await run(
      dir,
      `model: model.onnx
data:
  prose:
    use: text
    options: { path: lines.txt, tokenizer: bytes }
passes:
  int8:
    use: quantize/weight-only
    options: { algorithm: gptq, gptq: { calibration: prose, samples: 32 } }
`,
    );
    expect(report.status).toBe("ok");
    const gptq = progress.filter((p) => p.total === 3);
    expect(gptq[0]).toEqual({ done: 0, total: 3 });
    expect(gptq.at(-1)).toEqual({ done: 3, total: 3 });
    expect(report.steps[0]!.statistics!["gptq-weights"]).toBe(1);
  });
});
