import { inspectFile, loadModel } from "@lathe/core";
import { openOrtSession } from "@lathe/core/testing";
import { describe, expect, it } from "vitest";
import { type CorpusModel, corpusFeeds, loadCorpus } from "./corpus.js";

const corpus = loadCorpus();
const models = typeof corpus === "string" ? [] : corpus.models;

describe.skipIf(typeof corpus === "string")("corpus of real exports", () => {
  if (typeof corpus === "string") it.skip(corpus, () => {});

  it("covers the architectures, opsets and storage forms it promises", () => {
    const names = models.map((m) => m.name);
    for (const name of [
      "gpt2",
      "gpt2-past",
      "llama",
      "llama-past",
      "bert",
      "diffusers-transformer-block",
      "torch-mha",
      "packed-qkv-gather",
    ])
      expect(names).toContain(name);
    const opsets = new Set(models.map((m) => m.opset));
    for (let opset = 9; opset <= 21; opset++) expect(opsets).toContain(opset);
    // opset 18 as a real exporter wrote it, not only through convertOpset
    const native18 = models.filter((m) => m.opset >= 18 && m.exportedOpset === undefined);
    expect(native18.map((m) => m.name)).toContain("silero-vad-op18");
    const variants = new Set(models.map((m) => m.variant));
    for (const variant of ["constants", "external-data", "ort-fused", "constant-of-shape"])
      expect(variants).toContain(variant);
  });

  it.each(models.map((m) => [m.name, m] as const))(
    "%s loads in ONNX Runtime, runs, and passes through inspect",
    async (_name, entry: CorpusModel) => {
      const session = await openOrtSession(entry.path, { logSeverityLevel: 3 });
      expect([...session.inputNames]).toEqual(entry.inputs.map((i) => i.name));
      expect([...session.outputNames]).toEqual([...entry.outputs]);
      // a size the exporter did not trace with: the axes really are dynamic
      const results = await session.run(
        corpusFeeds(entry, { batch: 3, sequence: 7, past: 2, context: 6, height: 2, width: 5 }),
      );
      for (const name of entry.outputs) {
        const data = results[name]!.data as Float32Array;
        expect(data.every(Number.isFinite), `${name} is finite`).toBe(true);
      }
      await session.release();

      const summary = await inspectFile(entry.path);
      expect(summary.opsetImports["ai.onnx"]).toBe(entry.opset);
      // onnx's light models were converted from Caffe2; ORT's optimizer keeps the producer
      expect(summary.producer.name).toBe(
        entry.producer ?? (entry.variant === "constant-of-shape" ? "onnx-caffe2" : "pytorch"),
      );
      // export.py's modules attend and the light models classify; the VAD does neither
      if (!entry.package) expect(summary.ops["ai.onnx"]?.Softmax).toBeGreaterThan(0);
      if (entry.variant === "external-data") expect(summary.externalData.length).toBe(1);
      const model = await loadModel(entry.path);
      if (entry.variant === "constants") {
        expect(model.graph.initializers.size).toBe(0);
        expect([...model.graph].filter((n) => n.opType === "Constant").length).toBeGreaterThan(10);
      }
    },
  );

  it("writes what real exports write: Gemm transB, GPT-2's Where over a sliced buffer, rotary", async () => {
    const ops = async (name: string) => {
      const model = await loadModel(models.find((m) => m.name === name)!.path);
      return [...model.graph];
    };
    const gemm = (await ops("packed-qkv-gather")).find((n) => n.opType === "Gemm");
    expect(gemm?.getInt("transB", 0)).toBe(1);
    expect((await ops("gpt2")).some((n) => n.opType === "Where")).toBe(true);
    const llama = await ops("llama-past");
    expect(llama.some((n) => n.opType === "Range")).toBe(true); // the mask's arange
    expect(llama.filter((n) => n.opType === "Concat").length).toBeGreaterThan(4);
  });

  it("holds ORT's fused contrib ops, ConstantOfShape weights and converted opsets 18–21", async () => {
    for (const entry of models.filter((m) => m.variant === "ort-fused")) {
      const model = await loadModel(entry.path);
      const fused = [...model.graph].filter((n) => n.domain === "com.microsoft");
      expect(fused.length, entry.name).toBeGreaterThan(0);
    }
    for (const entry of models.filter((m) => m.variant === "constant-of-shape")) {
      const model = await loadModel(entry.path);
      const weights = [...model.graph].filter(
        (n) =>
          (n.opType === "Conv" || n.opType === "Gemm") &&
          n.inputs[1]?.producer()?.opType === "ConstantOfShape",
      );
      expect(weights.length, entry.name).toBeGreaterThan(0);
    }
    const converted = models.filter((m) => m.exportedOpset !== undefined);
    expect(converted.map((m) => m.opset).sort()).toEqual([18, 19, 20, 21]);
  });
});
