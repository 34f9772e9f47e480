import {
  createBuilder,
  DataType,
  type Model,
  type ModelBundle,
  relativeL2,
  singleModelBundle,
} from "@lathe/core";
import {
  float32Tensor,
  int64Tensor,
  opCounts,
  openOrtSession,
  runFloat,
} from "@lathe/core/testing";
import { gpt2, llama } from "@lathe/plugin-zoo";
import type * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { dequantizeRows, quantizeRtn } from "../src/weight-only/block-quant.js";
import type { WeightOnlyOptions } from "../src/weight-only/options.js";
import { weightOnlyPass } from "../src/weight-only/weight-only.js";
import { component, lmFeeds, runPass, tokenRows, top1Agreement } from "./int8-fixtures.js";

const VOCAB = gpt2.presets.tiny.vocab;
const ids = tokenRows(2, 16, VOCAB, 11);

async function quantized(bundle: ModelBundle, options: Partial<WeightOnlyOptions> = {}) {
  const { result } = await runPass(weightOnlyPass, bundle, options);
  return { model: component(result.bundle), statistics: result.statistics ?? {} };
}

/** Logits agreement of the quantized model with the float one on the same tokens. */
async function compare(reference: Model, candidate: Model) {
  const want = await runFloat(reference, lmFeeds(ids), "logits");
  const got = await runFloat(candidate, lmFeeds(ids), "logits");
  return { top1: top1Agreement(got, want, VOCAB), relL2: relativeL2(want, got) };
}

const gpt2Tiny = (kvCache = false) => gpt2.build({ ...gpt2.presets.tiny, kvCache }, { seed: 3 });
const llamaTiny = () => llama.build(llama.presets.tiny, { seed: 3 });

describe("quantize/weight-only on the zoo", () => {
  it("gpt2 tiny, rtn int4: every Gemm and the tied LM head as MatMulNBits, embeddings as GatherBlockQuantized", async () => {
    const reference = component(gpt2Tiny());
    const { model, statistics } = await quantized(gpt2Tiny());
    const ops = opCounts(model);
    const layers = gpt2.presets.tiny.layers;
    expect(ops.MatMulNBits).toBe(4 * layers + 1);
    expect(ops.Gemm ?? 0).toBe(0);
    expect(ops.GatherBlockQuantized).toBe(2); // wte and wpe
    // The LM head's Transpose of the tied table is gone; the table lives on only in 4 bits,
    // once: the wte Gather reads the LM head's MatMulNBits weight.
    expect(model.graph.initializers.has("transformer.wte.weight")).toBe(false);
    const readers = (opType: string) =>
      new Set(
        model.graph
          .nodes()
          .filter((n) => n.opType === opType)
          .map((n) => n.inputs[0]),
      );
    const gathered = new Set([...readers("GatherBlockQuantized")].filter((v) => v));
    const weights = new Set(
      model.graph
        .nodes()
        .filter((n) => n.opType === "MatMulNBits")
        .map((n) => n.inputs[1]),
    );
    expect([...gathered].filter((v) => weights.has(v))).toHaveLength(1);
    expect(statistics["quantized.Gemm"]).toBe(4 * layers);
    expect(statistics["quantized.MatMul"]).toBe(1);
    expect(statistics["quantized.Gather"]).toBe(2);
    // The attention score MatMuls read two activations: skipped, with the reason.
    expect(statistics["skipped: B is computed at run time (not a constant)"]).toBe(2 * layers);
    expect(Number(statistics["size-ratio"])).toBeLessThan(0.25);
    const { top1, relL2 } = await compare(reference, model);
    // Seen: top-1 0.97 (31 of 32 positions), relative L2 0.14.
    expect(top1).toBeGreaterThanOrEqual(0.9);
    expect(relL2).toBeLessThan(0.2);
  });

  it("gpt2 tiny with kvCache: prefill and a decode step on the quantized model follow the float one", async () => {
    const reference = component(gpt2Tiny(true));
    const { model } = await quantized(gpt2Tiny(true));
    expect(opCounts(model).MatMulNBits).toBe(4 * gpt2.presets.tiny.layers + 1);
    const { layers, heads, hidden } = gpt2.presets.tiny;
    const headDim = hidden / heads;
    const run = async (m: Model) => {
      const s = await openOrtSession(m);
      try {
        const empty = float32Tensor(new Float32Array(0), [2, heads, 0, headDim]);
        const feeds: Record<string, ort.Tensor> = { ...lmFeeds(ids) };
        for (let i = 0; i < layers; i++) {
          feeds[`past_key_values.${i}.key`] = empty;
          feeds[`past_key_values.${i}.value`] = empty;
        }
        const first = await s.run(feeds);
        const step: Record<string, ort.Tensor> = {
          ...lmFeeds(ids.map((row) => [row[0] as number])),
        };
        step.attention_mask = int64Tensor(new BigInt64Array(2 * 17).fill(1n), [2, 17]);
        step.position_ids = int64Tensor([16, 16], [2, 1]);
        for (let i = 0; i < layers; i++) {
          step[`past_key_values.${i}.key`] = first[`present.${i}.key`] as ort.Tensor;
          step[`past_key_values.${i}.value`] = first[`present.${i}.value`] as ort.Tensor;
        }
        const second = await s.run(step);
        expect(second["present.0.key"]?.dims).toEqual([2, heads, 17, headDim]);
        return [first.logits?.data as Float32Array, second.logits?.data as Float32Array];
      } finally {
        await s.release();
      }
    };
    const [want, got] = [await run(reference), await run(model)];
    const prefill = top1Agreement(got[0] as Float32Array, want[0] as Float32Array, VOCAB);
    const decode = relativeL2(want[1] as Float32Array, got[1] as Float32Array);
    // Seen: prefill top-1 0.97, decode-step relative L2 0.14.
    expect(prefill).toBeGreaterThanOrEqual(0.9);
    expect(decode).toBeLessThan(0.2);
  });

  it("llama tiny, rtn int4: every projection as MatMulNBits; logits follow the float model", async () => {
    const reference = component(llamaTiny());
    const before = opCounts(reference);
    const { model, statistics } = await quantized(llamaTiny());
    const ops = opCounts(model);
    // 7 projections a layer plus the untied LM head.
    expect(ops.MatMulNBits).toBe(7 * llama.presets.tiny.layers + 1);
    expect(ops.MatMul).toBe((before.MatMul ?? 0) - (ops.MatMulNBits ?? 0));
    expect(ops.GatherBlockQuantized).toBe(1);
    expect(Number(statistics["size-ratio"])).toBeLessThan(0.25);
    const { top1, relL2 } = await compare(reference, model);
    // Seen: top-1 0.72 (23 of 32), relative L2 0.16: tiny llama's random logits lie close together.
    expect(top1).toBeGreaterThanOrEqual(0.65);
    expect(relL2).toBeLessThan(0.22);
  });

  it("gpt2 tiny, gptq on generated calibration tokens: closer to the float model than rtn", async () => {
    const reference = component(gpt2Tiny());
    const rtn = await quantized(gpt2Tiny(), { accuracyLevel: 0 });
    const gptq = await quantized(gpt2Tiny(), {
      accuracyLevel: 0,
      algorithm: "gptq",
      gptq: { samples: 16, sequenceLength: 32, dampPercent: 0.01, actOrder: true, blockSize: 128 },
    });
    expect(gptq.statistics["gptq-weights"]).toBe(4 * gpt2.presets.tiny.layers + 1);
    expect(opCounts(gptq.model).MatMulNBits).toBe(4 * gpt2.presets.tiny.layers + 1);
    const a = await compare(reference, rtn.model);
    const b = await compare(reference, gptq.model);
    // Seen: logits relative L2 rtn 0.139, gptq 0.117.
    expect(b.relL2).toBeLessThan(0.95 * a.relL2);
  });

  it("gpt2 tiny, portable form: opset 21, blocked DequantizeLinear + MatMul, ReduceMean and Split rewritten", async () => {
    const reference = component(gpt2Tiny());
    const { model } = await quantized(gpt2Tiny(), { format: "portable" });
    expect(model.opset("")).toBe(21);
    expect(model.opsetImports.has("com.microsoft")).toBe(false);
    const ops = opCounts(model);
    expect(ops.DequantizeLinear).toBe(4 * gpt2.presets.tiny.layers + 1);
    expect(ops.Gather).toBeGreaterThan(0); // embeddings stay float in the portable form
    for (const node of model.graph)
      if (node.opType === "ReduceMean") expect(node.attributes.has("axes")).toBe(false);
    const { top1, relL2 } = await compare(reference, model);
    // Seen: top-1 0.97, relative L2 0.11 (the embeddings stay float).
    expect(top1).toBeGreaterThanOrEqual(0.9);
    expect(relL2).toBeLessThan(0.2);
  });
  it("a tied table is stored once: the Gather reads the LM head's MatMulNBits weight and returns its rtn rows exactly", async () => {
    const [vocab, width] = [40, 64];
    const table = Float32Array.from({ length: vocab * width }, (_, i) => Math.sin(i * 0.37) * 0.5);
    const b = createBuilder({ opset: 17 });
    const tied = b.constant(table, [vocab, width]);
    const ids = b.input("ids", DataType.INT64, [2, 3]);
    b.output(b.Gather(tied, ids), "embedded", DataType.FLOAT);
    const x = b.input("x", DataType.FLOAT, [2, width]);
    b.output(b.MatMul(x, b.Transpose(tied, { perm: [1, 0] })), "logits", DataType.FLOAT);
    const { result } = await runPass(weightOnlyPass, singleModelBundle(b.build()), {
      minElements: 1,
      minK: 1,
    });
    const model = component(result.bundle);
    const gather = model.graph.nodes().find((n) => n.opType === "GatherBlockQuantized")!;
    const matmul = model.graph.nodes().find((n) => n.opType === "MatMulNBits")!;
    expect(gather.inputs[0]).toBe(matmul.inputs[1]);
    const uint8Bytes = [...model.graph.initializers.values()]
      .filter(
        (v) =>
          v.constValue && "dataType" in v.constValue && v.constValue.dataType === DataType.UINT8,
      )
      .reduce((n, v) => n + (v.constValue as { byteLength: number }).byteLength, 0);
    expect(uint8Bytes).toBe(vocab * width); // the table at headBits (8), once

    const rows = dequantizeRows(
      quantizeRtn(table, vocab, width, { bits: 8, blockSize: 32, symmetric: true }),
    );
    const picks = [3, 0, 39, 7, 7, 12];
    const s = await openOrtSession(model);
    const out = await s.run({
      ids: int64Tensor(picks, [2, 3]),
      x: float32Tensor(new Float32Array(2 * width).fill(0.1), [2, width]),
    });
    expect(out.embedded!.dims).toEqual([2, 3, width]);
    const embedded = out.embedded!.data as Float32Array;
    picks.forEach((row, i) => {
      for (let c = 0; c < width; c++)
        expect(embedded[i * width + c]).toBeCloseTo(rows[row * width + c]!, 6);
    });
  });
});
