import {
  createBuilder,
  type DataRecord,
  DataType,
  type Model,
  relativeL2,
  SeededRandom,
  singleModelBundle,
  Tensor,
  type Value,
} from "@lathe/core";
import { boolTensor, float32Tensor, runFloat } from "@lathe/core/testing";
import { describe, expect, it } from "vitest";
import { fp16Pass } from "../src/fp16/fp16.js";
import { layersOf } from "../src/fp16/mixed-precision.js";
import { component, runPass } from "./int8-fixtures.js";

/**
 * Three layers; the middle one's bias carries an offset of 1000 that a later Sub removes
 * (1000 + a small per-channel bias, as a folded normalization can leave): at 1000 float16's
 * spacing is 0.5, so rounding that bias to float16 moves every channel by up to 0.25 against a
 * ~N(0, 1) signal, while the other layers' weights round to float16 harmlessly. (A large
 * activation alone would not show it on ONNX Runtime's CPU provider, which runs Add and Sub in
 * float32 and drops the Casts between them; the rounding of the weight is what it keeps.)
 */
function threeLayers(): Model {
  const b = createBuilder({ opset: 13 });
  b.output(stack(b, b.input("x", DataType.FLOAT, ["n", 16])), "y");
  return b.build();
}

/** The same three layers inside the then branch of an If on a boolean input. */
function threeLayersInAnIf(): Model {
  const b = createBuilder({ opset: 13 });
  const x = b.input("x", DataType.FLOAT, ["n", 16]);
  const cond = b.input("cond", DataType.BOOL, []);
  const thenB = createBuilder({ namePrefix: "then" });
  thenB.output(stack(thenB, x), "t");
  const elseB = createBuilder({ namePrefix: "else" });
  elseB.output(elseB.Slice(x, elseB.int64s([0]), elseB.int64s([8]), elseB.int64s([1])), "e");
  b.output(b.If(cond, { then_branch: thenB.graph, else_branch: elseB.graph }), "y");
  return b.build();
}

function stack(b: ReturnType<typeof createBuilder>, x: Value): Value {
  const random = new SeededRandom(7);
  const weight = (rows: number, cols: number, name: string) =>
    b.initializer(
      Tensor.fromArray(DataType.FLOAT, [rows, cols], random.normals(rows * cols, 1 / 4)),
      name,
    );
  const a = b.Relu(b.node("MatMul", [x, weight(16, 16, "wa")], {}, { name: "a" }).output);
  const bias = Float32Array.from(random.normals(16, 0.3), (v) => 1000 + v);
  const m = b.node("MatMul", [a, weight(16, 16, "wb")], {}, { name: "b" }).output;
  const biased = b.Add(m, b.initializer(Tensor.fromArray(DataType.FLOAT, [16], bias), "bias"));
  const shifted = b.Sub(biased, b.scalar(1000, DataType.FLOAT, "offset"));
  return b.node("MatMul", [shifted, weight(16, 8, "wc")], {}, { name: "c" }).output;
}

function inputs(seed: number, rows: number): Float32Array {
  return new SeededRandom(seed).normals(rows * 16);
}

const calibration: DataRecord[] = [0, 1, 2, 3].map((i) => ({
  x: Tensor.fromArray(DataType.FLOAT, [8, 16], inputs(100 + i, 8)),
}));
// held out: other draws than the calibration records
const feeds = { x: float32Tensor(inputs(999, 32), [32, 16]) };

describe("quantize/fp16 mixed precision (mixed.calibration)", () => {
  it("splits the main graph into layers at each weighted op", () => {
    expect(layersOf(threeLayers()).map((l) => [l.name, l.nodes.length])).toEqual([
      ["a", 2], // MatMul, Relu
      ["b", 3], // MatMul, Add, Sub
      ["c", 1],
    ]);
  });

  it("keeps the layer that float16 breaks float32, converts the others, and meets maxError on held-out inputs", async () => {
    const reference = await runFloat(threeLayers(), feeds, "y");
    const whole = await runPass(fp16Pass, singleModelBundle(threeLayers()));
    const wholeError = relativeL2(
      reference,
      await runFloat(component(whole.result.bundle), feeds, "y"),
    );

    const { result, infos } = await runPass(
      fp16Pass,
      singleModelBundle(threeLayers()),
      { mixed: { calibration: "calibration", maxError: 0.005 } },
      { calibration },
    );
    const mixed = component(result.bundle);
    const statistics = result.statistics!;
    expect(statistics["mixed: layers kept fp32"]).toBe("1 of 3");
    expect(statistics["kept-fp32: measured sensitive (mixed)"]).toBe(3);
    expect(Number(statistics["mixed: error (rel. L2 of y)"])).toBeLessThanOrEqual(0.005);
    expect(infos.some((m) => /1 of 3 layers kept fp32/.test(m))).toBe(true);
    // layer b computes in float32 on its exact weight and bias; a and c hold float16 weights
    const typeOf = (name: string) =>
      (mixed.graph.initializers.get(name)!.constValue as Tensor).dataType;
    expect([typeOf("wa"), typeOf("wb"), typeOf("bias"), typeOf("wc")]).toEqual([
      DataType.FLOAT16,
      DataType.FLOAT,
      DataType.FLOAT,
      DataType.FLOAT16,
    ]);
    expect(Number(statistics["size-ratio"])).toBeLessThan(0.9);

    // ORT on inputs the measurement never saw: whole-model float16 loses the middle layer
    // (measured: relative L2 0.21), the mixed model stays within maxError (2.5e-4)
    const mixedError = relativeL2(reference, await runFloat(mixed, feeds, "y"));
    expect(wholeError).toBeGreaterThan(0.02);
    expect(mixedError).toBeLessThan(0.005);
    expect(mixedError * 10).toBeLessThan(wholeError);
  });

  it("measures and keeps layers inside If branches too", async () => {
    const withCond = (records: DataRecord[]) =>
      records.map((r) => ({ ...r, cond: Tensor.fromArray(DataType.BOOL, [], [1]) }));
    const ifFeeds = { ...feeds, cond: boolTensor([true], []) };
    const reference = await runFloat(threeLayersInAnIf(), ifFeeds, "y");
    const { result } = await runPass(
      fp16Pass,
      singleModelBundle(threeLayersInAnIf()),
      { mixed: { calibration: "calibration", maxError: 0.005 } },
      { calibration: withCond(calibration) },
    );
    // the If, the three layers of the then branch, the else branch's Slice: the then branch's
    // middle layer is kept; the else branch never runs on the records, costs nothing, converts
    expect(result.statistics?.["mixed: layers kept fp32"]).toBe("1 of 5");
    const model = component(result.bundle);
    const error = relativeL2(reference, await runFloat(model, ifFeeds, "y"));
    expect(error).toBeLessThan(0.005);
  });

  it("keeps nothing float32 when converting every layer is within maxError", async () => {
    const { result } = await runPass(
      fp16Pass,
      singleModelBundle(threeLayers()),
      { mixed: { calibration: "calibration", maxError: 1 } },
      { calibration },
    );
    expect(result.statistics?.["mixed: layers kept fp32"]).toBe("0 of 3");
    expect(result.statistics?.["kept-fp32: measured sensitive (mixed)"]).toBeUndefined();
  });

  it("says which data set is empty", async () => {
    await expect(
      runPass(
        fp16Pass,
        singleModelBundle(threeLayers()),
        { mixed: { calibration: "none" } },
        { none: [] },
      ),
    ).rejects.toThrow(/mixed.calibration names data set "none", which has no records/);
  });
});
