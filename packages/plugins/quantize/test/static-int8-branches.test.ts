import {
  type Builder,
  checkModel,
  createBuilder,
  type DataRecord,
  DataType,
  decodeModel,
  encodeModel,
  graphScopes,
  type Model,
  relativeL2,
  SeededRandom,
  singleModelBundle,
  Tensor,
  type Value,
} from "@lathe/core";
import { boolTensor, float32Tensor, maxAbsDiff, runFloat } from "@lathe/core/testing";
import { describe, expect, it } from "vitest";
import { quantRange, scaleAndZeroPoint } from "../src/common/quant-math.js";
import { staticInt8Pass } from "../src/int8/static-int8.js";
import { component, runPass } from "./int8-fixtures.js";

/**
 * static-int8 inside If branches, against a reference: the same layers written in a main graph
 * and quantized on the records that take their branch. Calibrating through the branch (its
 * values carried out by added outputs, an empty placeholder where the branch did not run) must
 * give the same ranges, so ORT computes the same numbers.
 *
 *   y = If(cond) { MatMul(Relu(Conv(Tanh(x), W1, B1)), W2) } else { Conv(Sigmoid(x), W3) }
 *
 * W1 and B1 are main-graph initializers the branch reads from outside, W2 is the then branch's
 * own initializer, W3 a Constant node inside the else branch (as older exporters write weights).
 * Each branch starts with its own op so that every calibrated value is the branch's: a value
 * read from the main graph (x) is observed on every record, taken branch or not.
 */

const [C, L, O] = [4, 16, 8];

interface Weights {
  readonly w1: Float32Array;
  readonly b1: Float32Array;
  readonly w2: Float32Array;
  readonly w3: Float32Array;
}

function makeWeights(): Weights {
  const rng = new SeededRandom(3);
  const draw = (n: number, scale: number) =>
    Float32Array.from({ length: n }, () => rng.normal() * scale);
  return {
    w1: draw(O * C * 3, 0.3),
    b1: draw(O, 0.1),
    w2: draw(L * L, 0.25),
    w3: draw(O * C, 0.4),
  };
}

function thenBody(b: Builder, x: Value, w1: Value, b1: Value, w: Weights): Value {
  const h = b.Relu(b.Conv(b.Tanh(x), w1, b1, { pads: [1, 1] }));
  return b.MatMul(h, b.constant(w.w2, [L, L], DataType.FLOAT, "w2"));
}

function elseBody(b: Builder, x: Value, w: Weights): Value {
  return b.Conv(
    b.Sigmoid(x),
    b.Constant({ value: Tensor.fromArray(DataType.FLOAT, [O, C, 1], w.w3) }),
  );
}

/** The model with the If, or one branch written as a plain main graph (the reference). */
function buildModel(w: Weights, form: "if" | "then" | "else", opset = 18): Model {
  const b = createBuilder({ opset });
  const x = b.input("x", DataType.FLOAT, ["batch", C, L]);
  const w1 = b.constant(w.w1, [O, C, 3], DataType.FLOAT, "w1");
  const b1 = b.constant(w.b1, [O], DataType.FLOAT, "b1");
  let y: Value;
  if (form === "then") y = thenBody(b, x, w1, b1, w);
  else if (form === "else") y = elseBody(b, x, w);
  else {
    const cond = b.input("cond", DataType.BOOL, []);
    const thenB = createBuilder({ namePrefix: "then" });
    thenB.output(thenBody(thenB, x, w1, b1, w), "then_y");
    const elseB = createBuilder({ namePrefix: "else" });
    elseB.output(elseBody(elseB, x, w), "else_y");
    y = b.If(cond, { then_branch: thenB.graph, else_branch: elseB.graph });
  }
  b.output(y, "y", DataType.FLOAT, ["batch", O, L]);
  return b.build();
}

const rng = new SeededRandom(17);
const input = () =>
  Tensor.fromArray(
    DataType.FLOAT,
    [2, C, L],
    Float32Array.from({ length: 2 * C * L }, () => rng.normal()),
  );
const flag = (value: boolean) => Tensor.fromArray(DataType.BOOL, [], [value ? 1 : 0]);
/** Calibration: 4 records take the then branch, 4 the else branch. */
const records = Array.from({ length: 8 }, (_, i) => ({ x: input(), cond: flag(i % 2 === 0) }));
const heldOut = input();

async function run(model: Model, cond: boolean | undefined, optimize: boolean) {
  const feeds = {
    x: float32Tensor(heldOut.toArray() as Float32Array, heldOut.dims),
    ...(cond === undefined ? {} : { cond: boolTensor([cond], []) }),
  };
  return runFloat(model, feeds, "y", {
    intraOpNumThreads: 1,
    graphOptimizationLevel: optimize ? "all" : "disabled",
  });
}

async function quantize(model: Model, data: DataRecord[], calibrator: string) {
  const { result } = await runPass(
    staticInt8Pass,
    singleModelBundle(decodeModel(encodeModel(model))),
    { calibration: "calib", calibrator } as never,
    { calib: data },
  );
  return { model: component(result.bundle), statistics: result.statistics ?? {} };
}

/** Op types per branch (`then_branch`, `else_branch`), counted. */
function branchOps(model: Model): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const scope of graphScopes(model)) {
    if (scope.kind !== "subgraph") continue;
    const counts: Record<string, number> = {};
    for (const n of scope.graph) counts[n.opType] = (counts[n.opType] ?? 0) + 1;
    out[scope.attribute!] = counts;
  }
  return out;
}

describe("quantize/static-int8 inside If branches", () => {
  const w = makeWeights();

  for (const calibrator of ["minmax", "entropy"]) {
    it(`${calibrator}: each branch equals its layers quantized in a main graph on the records that take it (ORT)`, async () => {
      const taken = (value: boolean) =>
        records.filter((r) => (r.cond.toArray()[0] === 1) === value).map((r) => ({ x: r.x }));
      const { model, statistics } = await quantize(buildModel(w, "if"), records, calibrator);
      const references = new Map([
        ["then", (await quantize(buildModel(w, "then"), taken(true), calibrator)).model],
        ["else", (await quantize(buildModel(w, "else"), taken(false), calibrator)).model],
      ]);

      expect(statistics["quantized.Conv"]).toBe(2);
      expect(statistics["quantized.MatMul"]).toBe(1);
      expect(statistics["nodes-skipped"]).toBe(0);
      expect(statistics["subgraphs-visited"]).toBe(2);
      const ops = branchOps(model);
      // then: Tanh(x), the Conv output (paired for ORT's fusion) and the MatMul's input
      expect(ops.then_branch).toMatchObject({ QuantizeLinear: 3, Conv: 1, MatMul: 1 });
      expect(ops.else_branch).toMatchObject({ QuantizeLinear: 1, Conv: 1 });
      // the float weights are gone: the outer W1/B1 and the else branch's Constant
      expect(model.graph.initializers.has("w1")).toBe(false);
      expect(ops.else_branch!.Constant ?? 0).toBe(0);
      expect(checkModel(model).errors).toBe(0);

      const fp32 = buildModel(w, "if");
      for (const [branch, cond] of [
        ["then", true],
        ["else", false],
      ] as const) {
        // unoptimized, ORT runs the same float ops on the same dequantized values
        const got = await run(model, cond, false);
        const want = await run(references.get(branch)!, undefined, false);
        expect(maxAbsDiff(got, want), `${branch} vs its reference`).toBeLessThan(1e-5);
        // optimized (ORT fuses QDQ inside the branch), and against fp32
        const fused = await run(model, cond, true);
        expect(maxAbsDiff(fused, await run(references.get(branch)!, undefined, true))).toBeLessThan(
          1e-4,
        );
        const error = relativeL2(await run(fp32, cond, true), fused);
        expect(error, `${branch} vs fp32`).toBeGreaterThan(0);
        expect(error, `${branch} vs fp32`).toBeLessThan(0.06);
      }
    });
  }

  it("opset 12: converted to 13 first, per-channel inside the branches; convertOpset: false: no axis anywhere; both valid and run", async () => {
    const dequantizers = (model: Model) =>
      [...graphScopes(model)]
        .filter((scope) => scope.kind === "subgraph")
        .flatMap((scope) => [...scope.graph].filter((n) => n.opType === "DequantizeLinear"));
    const fp32 = await run(buildModel(w, "if", 12), true, true);
    for (const convertOpset of [true, false]) {
      const { result } = await runPass(
        staticInt8Pass,
        singleModelBundle(buildModel(w, "if", 12)),
        { calibration: "calib", convertOpset },
        { calib: records },
      );
      const model = component(result.bundle);
      expect(model.opset()).toBe(convertOpset ? 13 : 12);
      const dqs = dequantizers(model);
      expect(dqs.length).toBeGreaterThan(0);
      const perAxis = dqs.filter((n) => n.attributes.has("axis"));
      // the weights' and biases' DQs (W1, B1, W2 in then; W3 in else) carry an axis at 13
      expect(perAxis.length).toBe(convertOpset ? 4 : 0);
      expect(checkModel(model).errors).toBe(0);
      expect(relativeL2(fp32, await run(model, true, true))).toBeLessThan(0.06);
    }
  });

  it("a branch the calibration data never takes stays float, with the reason", async () => {
    const onlyThen = records.filter((r) => r.cond.toArray()[0] === 1);
    const { model, statistics } = await quantize(buildModel(w, "if"), onlyThen, "percentile");
    expect(statistics["quantized.Conv"]).toBe(1);
    expect(statistics["quantized.MatMul"]).toBe(1);
    expect(
      statistics[
        "skipped: no calibrated range for its input: its If branch never ran on the calibration data"
      ],
    ).toBe(1);
    expect(branchOps(model).else_branch).not.toHaveProperty("QuantizeLinear");
    const fp32 = await run(buildModel(w, "if"), false, true);
    expect(maxAbsDiff(await run(model, false, true), fp32)).toBe(0);
  });
});

/**
 * h = x; Loop 3 times { h = Tanh(MatMul(h, W)) }, W read from the main graph. The body's
 * activations differ per iteration: one range over every iteration of every record, which the
 * reference computes from the same layers unrolled in a main graph.
 */
const [B, H, STEPS] = [2, 16, 3];

function loopModel(w: Float32Array): Model {
  const b = createBuilder({ opset: 18 });
  const x = b.input("x", DataType.FLOAT, [B, H]);
  const weight = b.constant(w, [H, H], DataType.FLOAT, "w");
  const body = createBuilder({ namePrefix: "body" });
  body.input("i", DataType.INT64, []);
  const keep = body.input("keep", DataType.BOOL, []);
  const h = body.input("h", DataType.FLOAT, [B, H]);
  body.output(body.Identity(keep), "keep_out", DataType.BOOL, []);
  body.output(body.Tanh(body.MatMul(h, weight)), "h_out", DataType.FLOAT, [B, H]);
  const loop = b.node("Loop", [b.int64s([STEPS]), undefined, x], { body: body.graph });
  b.output(loop.output, "y", DataType.FLOAT, [B, H]);
  return b.build();
}

/** The same steps unrolled, every MatMul's input and output a graph output. */
function unrolled(w: Float32Array): Model {
  const b = createBuilder({ opset: 18 });
  let h = b.input("x", DataType.FLOAT, [B, H]);
  const weight = b.constant(w, [H, H], DataType.FLOAT, "w");
  for (let step = 0; step < STEPS; step++) {
    const m = b.MatMul(h, weight);
    b.output(m, `m${step}`, DataType.FLOAT);
    h = b.Tanh(m);
    if (step < STEPS - 1) b.output(h, `h${step + 1}`, DataType.FLOAT);
  }
  return b.build();
}

describe("quantize/static-int8 inside Loop bodies", () => {
  const w = Float32Array.from({ length: H * H }, () => rng.normal() * 0.4);
  const data = Array.from({ length: 4 }, () => ({
    x: Tensor.fromArray(
      DataType.FLOAT,
      [B, H],
      Float32Array.from({ length: B * H }, () => rng.normal()),
    ),
  }));

  /** min/max over every record of the named outputs of the unrolled model. */
  async function referenceRange(names: string[]): Promise<{ min: number; max: number }> {
    let [min, max] = [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
    for (const record of data)
      for (const name of names) {
        const values = await runFloat(
          unrolled(w),
          { x: float32Tensor(record.x.toArray() as Float32Array, [B, H]) },
          name,
        );
        for (const v of values) [min, max] = [Math.min(min, v), Math.max(max, v)];
      }
    return { min, max };
  }

  /** The scale of the QuantizeLinear reading `value`. */
  const scaleOf = (value: Value) => {
    const q = value.uses().find((u) => u.node.opType === "QuantizeLinear")!.node;
    return (q.inputs[1]!.constValue as Tensor).toArray()[0] as number;
  };

  for (const calibrator of ["minmax", "percentile"]) {
    it(`${calibrator}: one range per tensor over every iteration (the unrolled reference's min/max); ORT runs it`, async () => {
      const { model, statistics } = await quantize(loopModel(w), data, calibrator);
      expect(statistics["quantized.MatMul"]).toBe(1);
      expect(statistics["subgraphs-visited"]).toBe(1);
      expect(statistics["graphs-not-visited"]).toBe(0);
      if (calibrator !== "minmax")
        expect(
          statistics["ranges from minmax inside Loop/Scan bodies (no histogram per iteration)"],
        ).toBe(2);
      expect(checkModel(model).errors).toBe(0);
      const body = [...graphScopes(model)].find((s) => s.kind === "subgraph")!.graph;
      const matmul = [...body].find((n) => n.opType === "MatMul")!;
      // the body reads h = x, then Tanh of each step but the last; each step's MatMul writes m
      const xs = data.flatMap((r) => Array.from(r.x.toArray() as Float32Array));
      const tanhRange = await referenceRange(
        Array.from({ length: STEPS - 1 }, (_, k) => `h${k + 1}`),
      );
      const inputRange = {
        min: Math.min(tanhRange.min, ...xs),
        max: Math.max(tanhRange.max, ...xs),
      };
      const mRange = await referenceRange(Array.from({ length: STEPS }, (_, k) => `m${k}`));
      const uint8 = quantRange("uint8");
      const h = matmul.inputs[0]!.producer()!.inputs[0]!.producer()!.inputs[0]!;
      expect(scaleOf(h)).toBeCloseTo(
        scaleAndZeroPoint(inputRange.min, inputRange.max, uint8, false).scale,
        7,
      );
      expect(scaleOf(matmul.output)).toBeCloseTo(
        scaleAndZeroPoint(mRange.min, mRange.max, uint8, false).scale,
        7,
      );
      const feeds = { x: float32Tensor(heldOut.toArray().slice(0, B * H) as Float32Array, [B, H]) };
      const got = await runFloat(model, feeds, "y");
      const want = await runFloat(loopModel(w), feeds, "y");
      const error = relativeL2(want, got);
      expect(error).toBeGreaterThan(0);
      expect(error).toBeLessThan(0.05);
    });
  }
});
