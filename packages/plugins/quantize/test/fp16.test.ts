import type { OrtFeeds } from "@lathe/core";
import {
  createBuilder,
  DataType,
  type Model,
  psnr,
  relativeL2,
  SeededRandom,
  singleModelBundle,
  Tensor,
} from "@lathe/core";
import {
  float32Tensor,
  floatOutput,
  opCounts,
  openOrtSession,
  runFloat,
  runOnOrt,
} from "@lathe/core/testing";
import { gpt2, llama, unet } from "@lathe/plugin-zoo";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { fp16Pass } from "../src/fp16/fp16.js";
import { component, lmFeeds, runPass, tokenRows, top1Agreement } from "./int8-fixtures.js";

const ids = tokenRows(2, 16, 1000, 5);

function floatInitializerTypes(model: Model): DataType[] {
  return [...model.graph.initializers.values()]
    .map((v) => (v.constValue as Tensor).dataType)
    .filter((t) => t === DataType.FLOAT || t === DataType.FLOAT16);
}

function float16(h: number): number {
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  const v =
    e === 0
      ? m * 2 ** -24
      : e === 31
        ? m
          ? Number.NaN
          : Number.POSITIVE_INFINITY
        : (m + 1024) * 2 ** (e - 25);
  return h & 0x8000 ? -v : v;
}

describe("quantize/fp16", () => {
  it("converts tiny gpt2 to float16 inside, float32 at the I/O, and keeps its logits", async () => {
    const build = () => gpt2.build(gpt2.presets.tiny, { seed: 3 });
    const reference = await runFloat(component(build()), lmFeeds(ids), "logits");
    // target auto on a recipe targeting cuda: no warning
    const { result, warnings } = await runPass(fp16Pass, build(), {}, {}, ["cuda"]);
    expect(warnings).toEqual([]);
    const model = component(result.bundle);
    expect(new Set(floatInitializerTypes(model))).toEqual(new Set([DataType.FLOAT16]));
    expect(
      model.graph.outputs.map((v) => [v.name, v.type?.kind === "tensor" && v.type.elemType]),
    ).toEqual([["logits", DataType.FLOAT]]);
    expect(Number(result.statistics?.["casts-inserted"])).toBeGreaterThan(0);
    // Float weights halve; the int64 and bool constants (mask buffer, shapes) stay.
    const ratio = Number(result.statistics?.["size-ratio"]);
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(0.53);
    const logits = await runFloat(model, lmFeeds(ids), "logits");
    // Measured: rel L2 3.6e-4.
    expect(relativeL2(reference, logits)).toBeLessThan(5e-3);
    expect(top1Agreement(logits, reference, 1000)).toBe(1);
  });

  it("converts tiny llama, keeping Range and Min/Max float32 behind Casts", async () => {
    const build = () => llama.build(llama.presets.tiny, { seed: 3 });
    const reference = await runFloat(component(build()), lmFeeds(ids), "logits");
    const { result } = await runPass(fp16Pass, build());
    const logits = await runFloat(component(result.bundle), lmFeeds(ids), "logits");
    // Measured: rel L2 ≈ 0.010 (RMSNorm and rotary in fp16 on random tiny weights).
    expect(relativeL2(reference, logits)).toBeLessThan(0.03);
    expect(top1Agreement(logits, reference, 1000)).toBe(1);
  });

  it("converts tiny unet (Resize scales stay float32) with float32 I/O; PSNR against fp32", async () => {
    const build = () => unet.build(unet.presets.tiny, { seed: 5 });
    const rng = new SeededRandom(4);
    const feeds: OrtFeeds = {
      sample: float32Tensor(rng.normals(2 * 4 * 8 * 8), [2, 4, 8, 8]),
      timestep: float32Tensor([999, 500], [2]),
      encoder_hidden_states: float32Tensor(rng.normals(2 * 7 * 32), [2, 7, 32]),
    };
    const reference = await runFloat(component(build(), "unet"), feeds, "out_sample");
    // target auto on a recipe targeting cpu (runPass's default): the warning
    const { result, warnings } = await runPass(fp16Pass, build());
    expect(warnings.join()).toMatch(/CPU provider has fp16 kernels for some ops only/);
    const model = component(result.bundle, "unet");
    for (const node of model.graph) {
      if (node.opType !== "Resize" || !node.inputs[2]) continue;
      const scales = node.inputs[2];
      const t = scales.constValue instanceof Tensor ? scales.constValue.dataType : undefined;
      expect(t ?? DataType.FLOAT).toBe(DataType.FLOAT);
    }
    const out = await runFloat(model, feeds, "out_sample");
    // Measured: 63 dB.
    expect(psnr(reference, out)).toBeGreaterThan(45);
  });

  it("keeps block-listed ops float32, honours keepIoTypes: false, and clamps initializers", async () => {
    const b = createBuilder({ opset: 17 });
    const x = b.input("x", DataType.FLOAT, [2, 3]);
    const big = b.constant([1e6, -1e6, 1e-9, 0, 2, -3], [2, 3], DataType.FLOAT, "big");
    const y = b.Add(x, big);
    const m = b.Max(y, b.constant([0.5], [1], DataType.FLOAT, "half"));
    b.output(b.Mul(m, b.Cast(b.Size(x), { to: DataType.FLOAT })), "out");
    const model = b.build();
    const { result } = await runPass(fp16Pass, singleModelBundle(model), { keepIoTypes: false });
    const q = component(result.bundle);
    expect(result.statistics?.["values-clamped"]).toBe(3);
    expect(result.statistics?.["kept-fp32: Max in opBlockList"]).toBe(1);
    const maxNode = [...q.graph].find((n) => n.opType === "Max")!;
    expect(maxNode.inputs.map((v) => v?.producer()?.opType ?? "constant")).toEqual([
      "Cast",
      "constant",
    ]);
    expect(q.graph.inputs[0]?.type).toMatchObject({ elemType: DataType.FLOAT16 });
    expect(opCounts(q).Cast).toBe(3); // Size→fp16 (was to float), into Max, out of Max
    const s = await openOrtSession(q);
    const input = new ort.Tensor("float16", new Uint16Array([0x3c00, 0x4000, 0, 0, 0, 0]), [2, 3]);
    const out = (await s.run({ x: input })).out as ort.Tensor;
    expect(out.type).toBe("float16");
    // max(x + big, 0.5) · 6 with big clamped to ±65504: 1 + 65504 rounds to 65504 in fp16
    // (not infinity, as 1e6 would give), ·6 overflows; the others are exact.
    const got = Array.from(out.data as Uint16Array, (h) => float16(h));
    expect(got.slice(1)).toEqual([3, 3, 3, 12, 3]);
    await s.release();
  });
});

describe("quantize/fp16 on weights held by Constant nodes (exporters at opsets < 11)", () => {
  it("gives a block-listed node its exact float32 weight and a converted one a float16 copy", async () => {
    // (i + 1)(1 + 2⁻¹²): none is a float16, so reading a float16 rounding shows in the output
    const weight = Float32Array.from({ length: 16 }, (_, i) => (i + 1) * (1 + 2 ** -12));
    const b = createBuilder({ opset: 13 });
    const x = b.input("x", DataType.FLOAT, [2, 4]);
    const w = b.op("Constant", [], { value: Tensor.fromArray(DataType.FLOAT, [4, 4], weight) });
    b.output(b.node("MatMul", [x, w], {}, { name: "kept" }).output, "kept_out");
    const scale = b.op("Constant", [], { value_float: 0.5 });
    b.output(b.Mul(b.MatMul(x, w), scale), "converted_out");
    const model = b.build();
    const feeds = {
      x: float32Tensor([1, 2, 3, 4, 0.5, -1, 1.5, 2], [2, 4]),
    };
    const expected = await runOnOrt(model, feeds);

    const { result } = await runPass(fp16Pass, singleModelBundle(model), {
      nodeBlockList: ["kept"],
    });
    const q = component(result.bundle);
    // the weight twice (float32 for `kept`, a float16 copy for the other MatMul); the scale
    // (`value_float`), read by a converted Mul, a float16 `value` tensor
    const constants = [...q.graph].filter((n) => n.opType === "Constant");
    expect(constants.map((n) => (n.attribute("value")!.value as Tensor).dataType).sort()).toEqual([
      DataType.FLOAT,
      DataType.FLOAT16,
      DataType.FLOAT16,
    ]);
    expect(result.statistics?.["constants-converted"]).toBe(2);
    const got = await runOnOrt(q, feeds);
    // `kept` reads the exact weight: bit-identical to the float32 model (it read a float16
    // rounding of it behind a Cast before: 2⁻¹² relative off)
    expect(Array.from(floatOutput(got, "kept_out"))).toEqual(
      Array.from(floatOutput(expected, "kept_out")),
    );
    const want = floatOutput(expected, "converted_out");
    const have = floatOutput(got, "converted_out");
    for (let i = 0; i < want.length; i++)
      expect(Math.abs(have[i]! - want[i]!)).toBeLessThan(2e-3 * Math.abs(want[i]!));
  });
});

describe("quantize/fp16 on weights that If branches read from the enclosing graph", () => {
  // as Silero VAD's export holds them: 39 of its 45 initializers are read only inside its If
  function branchesReadingOuterWeight(): Model {
    const b = createBuilder({ opset: 13 });
    const x = b.input("x", DataType.FLOAT, [2, 4]);
    const cond = b.input("cond", DataType.BOOL, []);
    const weight = Float32Array.from({ length: 16 }, (_, i) => (i + 1) * (1 + 2 ** -12));
    const w = b.initializer(Tensor.fromArray(DataType.FLOAT, [4, 4], weight), "w");
    const thenB = createBuilder({ namePrefix: "then" });
    thenB.output(thenB.node("MatMul", [x, w], {}, { name: "then_mm" }).output, "t");
    const elseB = createBuilder({ namePrefix: "else" });
    elseB.output(elseB.node("MatMul", [x, w], {}, { name: "else_mm" }).output, "e");
    b.output(b.If(cond, { then_branch: thenB.graph, else_branch: elseB.graph }), "y");
    return b.build();
  }
  const run = async (model: Model, branch: boolean) =>
    runFloat(
      model,
      {
        x: new ort.Tensor("float32", Float32Array.from([1, 2, 3, 4, 0.5, -1, 1.5, 2]), [2, 4]),
        cond: new ort.Tensor("bool", Uint8Array.from([branch ? 1 : 0]), []),
      },
      "y",
    );

  it("makes them float16 when every reader converts, a float16 copy when one stays float32", async () => {
    const reference = await run(branchesReadingOuterWeight(), true);
    const whole = component(
      (await runPass(fp16Pass, singleModelBundle(branchesReadingOuterWeight()))).result.bundle,
    );
    expect((whole.graph.initializers.get("w")!.constValue as Tensor).dataType).toBe(
      DataType.FLOAT16,
    );
    for (const branch of [true, false]) {
      const got = await run(whole, branch);
      for (let i = 0; i < got.length; i++)
        expect(Math.abs(got[i]! - reference[i]!)).toBeLessThan(2e-3 * Math.abs(reference[i]!));
    }
    const { result } = await runPass(fp16Pass, singleModelBundle(branchesReadingOuterWeight()), {
      nodeBlockList: ["else_mm"],
    });
    const mixed = component(result.bundle);
    const types = [...mixed.graph.initializers.values()].map(
      (v) => (v.constValue as Tensor).dataType,
    );
    expect(types.sort()).toEqual([DataType.FLOAT, DataType.FLOAT16]);
    // the block-listed branch multiplies by the exact weight: as float32 computes it
    expect(Array.from(await run(mixed, false))).toEqual(
      Array.from(await run(branchesReadingOuterWeight(), false)),
    );
    expect(Number(result.statistics?.["size-ratio"])).toBeGreaterThan(1);
  });
});

describe("quantize/fp16 on PyTorch's float → float Cast", () => {
  // As a float16 → float16 Cast it made ONNX Runtime refuse real exports (test/corpus/passes.test.ts)
  it("writes an Identity for it, and the model runs", async () => {
    // What `attn_weights.softmax(-1).to(torch.float32)` exports (diffusers, LLaMA's RMSNorm)
    const b = createBuilder({ opset: 17 });
    const x = b.input("x", DataType.FLOAT, [2, 4]);
    const probabilities = b.Cast(b.Softmax(x, { axis: -1 }), { to: DataType.FLOAT });
    const w = b.constant([0.5, -1, 2, 0.25, 1, 1, -0.5, 3], [4, 2], DataType.FLOAT, "w");
    b.output(b.MatMul(probabilities, w), "out");
    const model = b.build();
    const feeds = {
      x: float32Tensor([1, 2, 3, 4, 0, -1, 1, 2], [2, 4]),
    };
    const expected = await runFloat(model, feeds, "out");
    const { result } = await runPass(fp16Pass, singleModelBundle(model), {});
    const q = component(result.bundle);
    expect(opCounts(q).Identity).toBe(1);
    const got = await runFloat(q, feeds, "out");
    for (let i = 0; i < expected.length; i++) expect(got[i]).toBeCloseTo(expected[i]!, 2);
  });
});
