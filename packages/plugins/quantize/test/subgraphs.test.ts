import {
  createBuilder,
  DataType,
  decodeModel,
  encodeModel,
  graphScopes,
  type Model,
  OnnxFunction,
  type PassDefinition,
  relativeL2,
  SeededRandom,
  singleModelBundle,
} from "@lathe/core";
import { boolTensor, float32Tensor, openOrtSession } from "@lathe/core/testing";
import { describe, expect, it } from "vitest";
import { fp16Pass } from "../src/fp16/fp16.js";
import { dynamicInt8Pass } from "../src/int8/dynamic-int8.js";
import { staticInt8Pass } from "../src/int8/static-int8.js";
import { weightOnlyPass } from "../src/weight-only/weight-only.js";
import { component, runPass } from "./int8-fixtures.js";

const [K, N] = [64, 32];

/**
 * Issue 13's third failure as a model: every weight sits inside the branches of an If (as a real
 * exporter writes data-dependent control flow), plus one in a model-local function that the
 * passes inline at its call (as ONNX Runtime does on load) to reach its weight.
 *   y = If(cond) { MatMul(Relu(MatMul(x, W1)), W2) } else { MatMul(x, W3) };  z = Proj(y)
 */
function branchModel(): Model {
  const rng = new SeededRandom(11);
  const weights = (rows: number, cols: number) =>
    Float32Array.from({ length: rows * cols }, () => rng.normal() * 0.2);
  const b = createBuilder({ opset: 21, opsets: { "custom.ops": 1 } });
  const x = b.input("x", DataType.FLOAT, ["batch", K]);
  const cond = b.input("cond", DataType.BOOL, []);
  const thenB = createBuilder({ namePrefix: "then" });
  const hidden = thenB.Relu(
    thenB.MatMul(x, thenB.constant(weights(K, K), [K, K], DataType.FLOAT, "w1")),
  );
  thenB.output(
    thenB.MatMul(hidden, thenB.constant(weights(K, N), [K, N], DataType.FLOAT, "w2")),
    "t",
  );
  const elseB = createBuilder({ namePrefix: "else" });
  elseB.output(elseB.MatMul(x, elseB.constant(weights(K, N), [K, N], DataType.FLOAT, "w3")), "e");
  const y = b.If(cond, { then_branch: thenB.graph, else_branch: elseB.graph });
  b.output(b.op("Proj", [y], {}, { domain: "custom.ops" }), "z", DataType.FLOAT, ["batch", N]);
  const model = b.build();
  const body = createBuilder({ opset: 21 });
  const fx = body.input("fx", DataType.FLOAT);
  body.output(body.MatMul(fx, body.Constant({ value: weightsTensor(weights(N, N)) })), "fy");
  const fn = new OnnxFunction({ domain: "custom.ops", name: "Proj", graph: body.graph });
  fn.opsetImports.set("", 21);
  model.functions.set(fn.key, fn);
  return model;
}

function weightsTensor(values: Float32Array) {
  return createBuilder().constant(values, [N, N]).constValue!;
}

async function outputs(model: Model): Promise<Float32Array[]> {
  const session = await openOrtSession(model);
  const rng = new SeededRandom(5);
  const x = float32Tensor(
    Float32Array.from({ length: 3 * K }, () => rng.normal()),
    [3, K],
  );
  const out: Float32Array[] = [];
  for (const flag of [true, false]) {
    const result = await session.run({ x, cond: boolTensor([flag], []) });
    out.push(result.z!.data as Float32Array);
  }
  await session.release();
  return out;
}

/** Op types inside the If branches, counted. */
function branchOps(model: Model): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const scope of graphScopes(model))
    if (scope.kind === "subgraph")
      for (const n of scope.graph) counts[n.opType] = (counts[n.opType] ?? 0) + 1;
  return counts;
}

async function passOnBranches<O>(pass: PassDefinition<O>, options: Partial<O> = {}) {
  const original = branchModel();
  const reference = await outputs(original);
  // the branches compute different things: each output shows its branch ran
  expect(relativeL2(reference[1]!, reference[0]!)).toBeGreaterThan(0.5);
  const bundle = singleModelBundle(decodeModel(encodeModel(original)));
  const { result, infos } = await runPass(pass, bundle, options);
  const model = component(result.bundle);
  const after = await outputs(decodeModel(encodeModel(model)));
  const errors = after.map((o, i) => relativeL2(reference[i]!, o));
  return { result, model, errors, infos, statistics: result.statistics ?? {} };
}

describe("quantization passes visit If branches and function bodies, and say what they did not visit", () => {
  it("dynamic-int8 quantizes the MatMuls inside both branches and the function (inlined); ORT runs both", async () => {
    const { model, errors, statistics, infos } = await passOnBranches(dynamicInt8Pass);
    expect(statistics["quantized.MatMul"]).toBe(4);
    expect(statistics["subgraphs-visited"]).toBe(2);
    // the function holding a MatMul was inlined at its call: nothing is left unvisited
    expect(statistics["function-calls-inlined"]).toBe(1);
    expect(statistics["graphs-not-visited"]).toBe(0);
    expect(statistics["nodes-skipped"]).toBe(0);
    expect(model.functions.size).toBe(0);
    expect(infos.some((m) => m.includes("inlined 1 call(s) of custom.ops::Proj"))).toBe(true);
    expect(branchOps(model).MatMul ?? 0).toBe(0);
    expect(branchOps(model).MatMulInteger).toBe(3);
    for (const e of errors) expect(e).toBeLessThan(0.05);
  });

  it("weight-only (rtn) stores the branch and function weights as MatMulNBits; ORT runs both branches", async () => {
    const { model, errors, statistics } = await passOnBranches(weightOnlyPass, {
      blockSize: 32,
    } as never);
    expect(statistics["quantized.MatMul"]).toBe(4);
    expect(statistics["function-calls-inlined"]).toBe(1);
    expect(statistics["subgraphs-visited"]).toBe(2);
    expect(branchOps(model).MatMulNBits).toBe(3);
    for (const e of errors) expect(e).toBeLessThan(0.15);
  });

  it("weight-only (gptq) leaves the branches alone and says why", async () => {
    const { statistics } = await passOnBranches(weightOnlyPass, {
      algorithm: "gptq",
      blockSize: 32,
    } as never);
    expect(statistics["subgraphs-visited"]).toBe(0);
    expect(statistics["nodes-skipped"]).toBeGreaterThanOrEqual(3);
    const reasons = Object.keys(statistics).filter((k) => k.startsWith("graphs-not-visited: gptq"));
    expect(reasons).toHaveLength(1);
    expect(statistics[reasons[0]!]).toBe(2);
  });

  it("fp16 converts inside the branches with Casts at their borders; ORT runs both", async () => {
    const { model, errors, statistics } = await passOnBranches(fp16Pass, {
      keepIoTypes: true,
    } as never);
    expect(statistics["subgraphs-visited"]).toBe(2);
    expect(statistics["nodes-converted"]).toBeGreaterThanOrEqual(4);
    const inner = [...graphScopes(model)].filter((s) => s.kind === "subgraph");
    const halfWeights = inner.flatMap((s) =>
      [...s.graph.initializers.values()].filter(
        (v) => "dataType" in v.constValue! && v.constValue.dataType === DataType.FLOAT16,
      ),
    );
    expect(halfWeights).toHaveLength(3);
    for (const e of errors) expect(e).toBeLessThan(0.01);
  });

  it("static-int8 calibrates inside the branch its data ran and names the branch that never ran; ORT runs both", async () => {
    // generated calibration records hold one value of `cond`: only one branch runs on them
    const { model, statistics, errors } = await passOnBranches(staticInt8Pass);
    expect(statistics["subgraphs-visited"]).toBe(2);
    expect(statistics["graphs-not-visited"]).toBe(0);
    expect(statistics["function-calls-inlined"]).toBe(1);
    // the function's MatMul (main graph) and the then branch's two
    expect(statistics["quantized.MatMul"]).toBe(3);
    expect(statistics["nodes-skipped"]).toBe(1);
    expect(
      statistics[
        "skipped: no calibrated range for its input: its If branch never ran on the calibration data"
      ],
    ).toBe(1);
    expect(branchOps(model).QuantizeLinear).toBe(2);
    // generated calibration data (8 records): the bound says it runs, not how well
    for (const e of errors) expect(e).toBeLessThan(0.15);
  });
});

/**
 * What spox writes for Silero VAD: `If` branches full of shape arithmetic, `Gather(Shape(x), i)`.
 * Those Gathers read no table, so they are not candidates: a pass that changes nothing must say
 * so (candidate-nodes 0), not count them as candidates it neither quantized nor skipped.
 */
function shapeArithmeticModel(): Model {
  const b = createBuilder({ opset: 16 });
  const x = b.input("x", DataType.FLOAT, ["batch", K]);
  const cond = b.input("cond", DataType.BOOL, []);
  const branch = (prefix: string, axis: number) => {
    const g = createBuilder({ namePrefix: prefix });
    const index = g.constant(BigInt64Array.from([BigInt(axis)]), [], DataType.INT64);
    g.output(g.Cast(g.Gather(g.Shape(x), index), { to: DataType.FLOAT }), `${prefix}_size`);
    return g.graph;
  };
  const size = b.If(cond, { then_branch: branch("then", 0), else_branch: branch("else", 1) });
  b.output(size, "size", DataType.FLOAT, []);
  return b.build();
}

describe("shape arithmetic is not a quantization candidate", () => {
  it.each([
    ["dynamic-int8", dynamicInt8Pass as PassDefinition<unknown>],
    ["weight-only", weightOnlyPass as PassDefinition<unknown>],
  ])("%s: Gather(Shape(x), i) in If branches leaves candidate-nodes 0", async (_name, pass) => {
    const { result } = await runPass(pass, singleModelBundle(shapeArithmeticModel()));
    expect(result.modified).toBe(false);
    expect(result.statistics?.["subgraphs-visited"]).toBe(2);
    expect(result.statistics?.["candidate-nodes"]).toBe(0);
    expect(result.statistics?.["nodes-skipped"]).toBe(0);
  });
});
