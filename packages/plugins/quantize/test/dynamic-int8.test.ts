import { createBuilder, DataType, psnr, relativeL2, singleModelBundle, Tensor } from "@lathe/core";
import { float32Tensor, opCounts, runFloat } from "@lathe/core/testing";
import { gpt2, llama } from "@lathe/plugin-zoo";
import { describe, expect, it } from "vitest";
import { dequantizeWeight, quantizeWeight } from "../src/common/quant-math.js";
import { dynamicInt8Pass } from "../src/int8/dynamic-int8.js";
import {
  buildTinyUnet,
  component,
  lmFeeds,
  optimizedOps,
  runPass,
  runUnetHeldOut,
  tokenRows,
  top1Agreement,
} from "./int8-fixtures.js";

const VOCAB = gpt2.presets.tiny.vocab;
const ids = tokenRows(2, 16, VOCAB, 7);

/** `x` as DynamicQuantizeLinear makes it: uint8, the range widened to hold 0. */
function dynamicQuantizeLinear(x: Float32Array) {
  const lo = Math.min(0, ...x);
  const hi = Math.max(0, ...x);
  const xScale = Math.fround((hi - lo) / 255);
  const xZero = Math.max(0, Math.min(255, Math.round(-lo / xScale)));
  const xq = Array.from(x, (v) => Math.max(0, Math.min(255, Math.round(v / xScale) + xZero)));
  return { xScale, xZero, xq };
}

const buildGpt2 = () => gpt2.build(gpt2.presets.tiny, { seed: 3 });
const buildLlama = () => llama.build(llama.presets.tiny, { seed: 3 });

describe("quantize/dynamic-int8", () => {
  it("quantizes tiny gpt2: every Gemm, the tied LM head and the embeddings; ORT fuses and runs it", async () => {
    const reference = await runFloat(component(buildGpt2()), lmFeeds(ids), "logits");
    const bundle = buildGpt2();
    const before = opCounts(component(bundle));
    const { result } = await runPass(dynamicInt8Pass, bundle);
    const model = component(result.bundle);
    const ops = opCounts(model);
    expect(result.modified).toBe(true);
    // 4 Gemms a layer (c_attn, c_proj, c_fc, mlp c_proj) and the LM head MatMul.
    const gemms = before.Gemm ?? 0;
    expect(gemms).toBe(4 * gpt2.presets.tiny.layers);
    expect(ops.Gemm ?? 0).toBe(0);
    expect(ops.MatMulInteger).toBe(gemms + 1);
    expect(ops.DynamicQuantizeLinear).toBe(gemms + 1);
    expect(result.statistics?.["quantized.Gemm"]).toBe(gemms);
    expect(result.statistics?.["quantized.MatMul"]).toBe(1);
    expect(result.statistics?.["quantized.Gather"]).toBe(2); // wte and wpe
    // The fp32 embedding is gone: the tied table is stored once, in int8.
    expect(model.graph.initializers.has("transformer.wte.weight")).toBe(false);
    const int8Bytes = [...model.graph.initializers.values()]
      .filter((v) => (v.constValue as Tensor).dataType === DataType.INT8)
      .reduce((n, v) => n + (v.constValue as Tensor).byteLength, 0);
    const { hidden, vocab, layers } = gpt2.presets.tiny;
    // Weights, plus one int8 zero point per output channel (all 0: symmetric).
    const channels = layers * (3 + 1 + 4 + 1) * hidden + vocab;
    expect(int8Bytes).toBe(
      vocab * hidden + 128 * hidden + layers * 12 * hidden * hidden + channels,
    );
    const ratio = Number(result.statistics?.["size-ratio"]);
    expect(ratio).toBeLessThan(0.3);

    const fused = await optimizedOps(model);
    expect(fused.DynamicQuantizeMatMul).toBe(gemms + 1);
    expect(fused.MatMulInteger ?? 0).toBe(0);

    const logits = await runFloat(model, lmFeeds(ids), "logits");
    const relL2 = relativeL2(reference, logits);
    const top1 = top1Agreement(logits, reference, VOCAB);
    // Measured on these seeds: rel L2 0.0145, top-1 31/32.
    expect(relL2).toBeLessThan(0.03);
    expect(top1).toBeGreaterThanOrEqual(0.9);
  });

  it("emits com.microsoft DynamicQuantizeMatMul directly with format: contrib, same numbers", async () => {
    const standard = component((await runPass(dynamicInt8Pass, buildGpt2())).result.bundle);
    const { result } = await runPass(dynamicInt8Pass, buildGpt2(), { format: "contrib" });
    const model = component(result.bundle);
    expect(opCounts(model).DynamicQuantizeMatMul).toBe(4 * gpt2.presets.tiny.layers + 1);
    expect(model.opsetImports.get("com.microsoft")).toBe(1);
    const a = await runFloat(model, lmFeeds(ids), "logits");
    const b = await runFloat(standard, lmFeeds(ids), "logits");
    expect(relativeL2(b, a)).toBeLessThan(1e-4);
  });

  it("quantizes tiny llama's MatMuls and keeps its logits", async () => {
    const reference = await runFloat(component(buildLlama()), lmFeeds(ids), "logits");
    const bundle = buildLlama();
    const matmulsWithWeights = [...component(bundle).graph].filter(
      (n) => n.opType === "MatMul" && n.inputs[1]?.constValue,
    ).length;
    const { result } = await runPass(dynamicInt8Pass, bundle);
    const model = component(result.bundle);
    expect(opCounts(model).MatMulInteger).toBe(matmulsWithWeights);
    // Attention's activation × activation MatMuls are skipped, with their reason.
    expect(
      result.statistics?.["skipped: weight is computed at run time (not a constant)"],
    ).toBeGreaterThan(0);
    const logits = await runFloat(model, lmFeeds(ids), "logits");
    const relL2 = relativeL2(reference, logits);
    expect(relL2).toBeLessThan(0.05);
    expect(top1Agreement(logits, reference, llama.presets.tiny.vocab)).toBeGreaterThanOrEqual(0.9);
  });

  it("honours exclude, perChannel: false, uint8 weights and reduceRange", async () => {
    const reference = await runFloat(component(buildGpt2()), lmFeeds(ids), "logits");
    const { result } = await runPass(dynamicInt8Pass, buildGpt2(), {
      exclude: ["^/lm_head/"],
      opTypes: ["Gemm", "MatMul"],
      perChannel: false,
      weightType: "uint8",
      reduceRange: true,
    });
    const model = component(result.bundle);
    expect(result.statistics?.["quantized.MatMul"]).toBeUndefined();
    expect(result.statistics?.['skipped: name matches exclude pattern "^/lm_head/"']).toBe(1);
    const scales = [...model.graph.initializers.values()].filter((v) => v.name.endsWith("_scale"));
    expect(scales.every((v) => (v.constValue as Tensor).dims.length === 0)).toBe(true);
    const weights = [...model.graph.initializers.values()].filter((v) =>
      v.name.endsWith("_quantized"),
    );
    for (const w of weights) {
      const values = (w.constValue as Tensor).toArray() as Uint8Array;
      expect((w.constValue as Tensor).dataType).toBe(DataType.UINT8);
      expect(Math.max(...values)).toBeLessThanOrEqual(127); // 7 bits
    }
    const logits = await runFloat(model, lmFeeds(ids), "logits");
    expect(relativeL2(reference, logits)).toBeLessThan(0.1);
  });

  it("handles shared weights, Constant-node weights, transB, computed weights and tiny weights", async () => {
    const b = createBuilder({ opset: 17 });
    const x = b.input("x", DataType.FLOAT, [3, 32]);
    const values = Float32Array.from({ length: 32 * 16 }, (_, i) => Math.sin(i * 0.37));
    const shared = b.constant(values, [32, 16], DataType.FLOAT, "shared");
    const y1 = b.MatMul(x, shared);
    const y2 = b.MatMul(x, shared);
    const fromConstant = b.Constant({ value: Tensor.fromArray(DataType.FLOAT, [32, 16], values) });
    const y3 = b.MatMul(x, fromConstant);
    const wT = b.constant(
      Float32Array.from({ length: 16 * 32 }, (_, i) => Math.cos(i * 0.11)),
      [16, 32],
    );
    const y4 = b.Gemm(x, wT, b.constant(new Float32Array(16).fill(0.5), [16]), {
      transB: 1,
      beta: 2,
    });
    const y5 = b.MatMul(y1, b.Transpose(y2)); // [3,3], activations on both sides
    const y6 = b.MatMul(x, b.constant(new Float32Array(32 * 2).fill(0.1), [32, 2]));
    b.output(b.Concat(y1, y2, y3, y4, { axis: 1 }), "y");
    b.output(y5, "z");
    b.output(y6, "w");
    const model = b.build();
    const input = Float32Array.from({ length: 96 }, (_, i) => Math.cos(i));
    const feeds = { x: float32Tensor(input, [3, 32]) };
    const reference = await runFloat(model, feeds, "y");
    const { result } = await runPass(dynamicInt8Pass, singleModelBundle(model));
    const q = component(result.bundle);
    expect(result.statistics?.["quantized.MatMul"]).toBe(3);
    expect(result.statistics?.["quantized.Gemm"]).toBe(1);
    expect(result.statistics?.["skipped: weight is computed at run time (not a constant)"]).toBe(1);
    expect(result.statistics?.["skipped: weight has 64 elements (< minElements 256)"]).toBe(1);
    // `shared` is stored once; the Constant's copy once more.
    const quantized = [...q.graph.initializers.keys()].filter((n) => n.endsWith("_quantized"));
    expect(quantized).toHaveLength(3);
    expect(opCounts(q).Constant ?? 0).toBe(0);
    const y = await runFloat(q, feeds, "y");
    expect(relativeL2(reference, y)).toBeLessThan(0.02);
    expect(q.graph.outputs.map((v) => v.name)).toEqual(["y", "z", "w"]);
  });

  it("computes what DynamicQuantizeLinear + integer product + scales compute, to float rounding", async () => {
    const [m, k, n] = [4, 64, 24];
    const w = Float32Array.from({ length: k * n }, (_, i) => Math.sin(i * 1.3) * (1 + (i % n) / 8));
    const x = Float32Array.from({ length: m * k }, (_, i) => Math.cos(i * 0.7) * 3 - 0.5);
    const b = createBuilder({ opset: 17 });
    b.output(b.MatMul(b.input("x", DataType.FLOAT, [m, k]), b.constant(w, [k, n])), "y");
    const { result } = await runPass(dynamicInt8Pass, singleModelBundle(b.build()));
    const y = await runFloat(component(result.bundle), { x: float32Tensor(x, [m, k]) }, "y");

    // Reference: x as DynamicQuantizeLinear makes it (uint8, range widened to hold 0), the
    // weight as the pass stores it (int8 per column), the product in exact integers.
    const { xScale, xZero, xq } = dynamicQuantizeLinear(x);
    const wq = quantizeWeight(w, [k, n], {
      kind: "int8",
      symmetric: true,
      reduceRange: false,
      axis: 1,
    });
    for (let r = 0; r < m; r++) {
      for (let c = 0; c < n; c++) {
        let acc = 0;
        for (let i = 0; i < k; i++) acc += (xq[r * k + i]! - xZero) * wq.values[i * n + c]!;
        const expected = acc * xScale * wq.scales[c]!;
        expect(y[r * n + c]).toBeCloseTo(expected, 3);
      }
    }
    // And the stored weight is within half a step of the float one.
    const back = dequantizeWeight(wq);
    for (let i = 0; i < w.length; i++)
      expect(Math.abs(back[i]! - w[i]!)).toBeLessThanOrEqual(wq.scales[i % n]! / 2 + 1e-7);
  });
  it("quantizes tiny unet's Convs as ConvInteger with opTypes [Conv]; ORT runs it", async () => {
    const reference = await runUnetHeldOut(component(buildTinyUnet(), "unet"));
    const bundle = buildTinyUnet();
    const convs = opCounts(component(bundle, "unet")).Conv ?? 0;
    const { result, warnings } = await runPass(dynamicInt8Pass, bundle, { opTypes: ["Conv"] });
    expect(warnings.join("\n")).toMatch(/ConvInteger runs slower than float Conv/);
    const model = component(result.bundle, "unet");
    const ops = opCounts(model);
    // every Conv with enough weights (minElements 256): the 4-channel conv_in (4·32·9 = 1152) too
    const quantized = Number(result.statistics?.["quantized.Conv"]);
    expect(quantized).toBe(convs);
    expect(ops.ConvInteger).toBe(quantized);
    expect(ops.Conv ?? 0).toBe(convs - quantized);
    expect(ops.MatMulInteger ?? 0).toBe(0);
    const out = await runUnetHeldOut(model);
    expect(psnr(reference, out)).toBeGreaterThan(30);
  });

  it("computes a strided, padded, grouped Conv as ConvInteger does in integers, with per-channel scales", async () => {
    const [c, m, groups, size] = [4, 6, 2, 7];
    const kernel = [m, c / groups, 3, 3];
    const count = kernel.reduce((a, b) => a * b, 1);
    const w = Float32Array.from({ length: count }, (_, i) => Math.sin(i * 1.7) * (1 + (i % m)));
    const bias = Float32Array.from({ length: m }, (_, i) => i * 0.25 - 0.5);
    const x = Float32Array.from({ length: c * size * size }, (_, i) => Math.cos(i * 0.3) * 2 + 0.2);
    const b = createBuilder({ opset: 17 });
    const conv = b.Conv(
      b.input("x", DataType.FLOAT, [1, c, size, size]),
      b.constant(w, kernel),
      b.constant(bias, [m]),
      { group: groups, strides: [2, 2], pads: [1, 1, 1, 1], kernel_shape: [3, 3] },
    );
    b.output(conv, "y");
    const { result } = await runPass(dynamicInt8Pass, singleModelBundle(b.build()), {
      opTypes: ["Conv"],
      minElements: 1,
    });
    expect(opCounts(component(result.bundle)).ConvInteger).toBe(1);
    const y = await runFloat(
      component(result.bundle),
      { x: float32Tensor(x, [1, c, size, size]) },
      "y",
    );

    // Reference: x as DynamicQuantizeLinear makes it, the weight per output channel (axis 0),
    // the convolution in exact integers, then the scales and the bias.
    const { xScale, xZero, xq } = dynamicQuantizeLinear(x);
    const wq = quantizeWeight(w, kernel, {
      kind: "int8",
      symmetric: true,
      reduceRange: false,
      axis: 0,
    });
    const out = Math.floor((size + 2 - 3) / 2) + 1;
    const perGroup = c / groups;
    for (let o = 0; o < m; o++) {
      const g = Math.floor(o / (m / groups));
      for (let r = 0; r < out; r++)
        for (let col = 0; col < out; col++) {
          let acc = 0;
          for (let ci = 0; ci < perGroup; ci++)
            for (let kr = 0; kr < 3; kr++)
              for (let kc = 0; kc < 3; kc++) {
                const [ir, ic] = [r * 2 - 1 + kr, col * 2 - 1 + kc];
                if (ir < 0 || ic < 0 || ir >= size || ic >= size) continue;
                const input = xq[((g * perGroup + ci) * size + ir) * size + ic]! - xZero;
                acc += input * wq.values[((o * perGroup + ci) * 3 + kr) * 3 + kc]!;
              }
          const expected = acc * xScale * wq.scales[o]! + bias[o]!;
          expect(y[(o * out + r) * out + col]).toBeCloseTo(expected, 3);
        }
    }
  });

  it("skips Convs ORT cannot run as ConvInteger: per-channel asymmetric weights", async () => {
    const b = createBuilder({ opset: 17 });
    const w = Float32Array.from({ length: 8 * 4 * 9 }, (_, i) => Math.sin(i));
    b.output(b.Conv(b.input("x", DataType.FLOAT, [1, 4, 5, 5]), b.constant(w, [8, 4, 3, 3])), "y");
    const { result } = await runPass(dynamicInt8Pass, singleModelBundle(b.build()), {
      opTypes: ["Conv"],
      symmetric: false,
      weightType: "uint8",
    });
    expect(result.modified).toBe(false);
    const reasons = Object.keys(result.statistics ?? {}).filter((k) => k.startsWith("skipped: "));
    expect(reasons).toEqual([
      "skipped: ConvInteger on ORT's CPU takes one weight zero point: per-channel asymmetric weights are not supported (set symmetric: true or perChannel: false)",
    ]);
  });
});
