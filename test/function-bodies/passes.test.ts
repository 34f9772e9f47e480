import {
  convertOpsetPass,
  createBuilder,
  DataType,
  type Model,
  OnnxFunction,
  type PassDefinition,
  relativeL2,
  SeededRandom,
  Tensor,
  type Value,
} from "@lathe/core";
import { float32Tensor, PassTester, runFloat } from "@lathe/core/testing";
import flashAttention from "@lathe/plugin-flash-attention";
import prune from "@lathe/plugin-prune";
import quantize from "@lathe/plugin-quantize";
import type * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";

/**
 * Issue 13's third failure for functions: a model whose work sits in a model-local function, as
 * exporters that write one function per module (torch's dynamo exporter) write it — the block's
 * weights are initializers of the main graph passed to the call. Every pass of the built-in
 * plugins either does its work on the function's body (inlined at the call, as ONNX Runtime does
 * on load, or converted in place) or says which graph it did not visit and why; the output passes
 * the engine's checks, loads in ONNX Runtime and computes what the original does.
 */

const [HEADS, WIDTH] = [4, 32];

/** Deterministic normals times `scale` (core's one seeded generator). */
const floats = (count: number, seed: number, scale = 1) =>
  new SeededRandom(seed).normals(count, scale);

/** local::Block(x, wq, wk, wv, wo, w1): BERT-style self-attention and an MLP, with residuals. */
function blockFunction(): OnnxFunction {
  const b = createBuilder({ opset: 17 });
  const x = b.input("x", DataType.FLOAT);
  const [wq, wk, wv, wo, w1] = ["wq", "wk", "wv", "wo", "w1"].map((n) =>
    b.input(n, DataType.FLOAT),
  ) as [Value, Value, Value, Value, Value];
  // a function body holds no initializers: its constants are Constant nodes
  const ints = (values: number[]) =>
    b.Constant({ value: Tensor.fromArray(DataType.INT64, [values.length], values.map(BigInt)) });
  const heads = (t: Value) =>
    b.Transpose(b.Reshape(t, ints([0, 0, HEADS, WIDTH / HEADS])), { perm: [0, 2, 1, 3] });
  const q = heads(b.MatMul(x, wq));
  const k = heads(b.MatMul(x, wk));
  const v = heads(b.MatMul(x, wv));
  const scores = b.Div(
    b.MatMul(q, b.Transpose(k, { perm: [0, 1, 3, 2] })),
    b.Constant({ value: Tensor.fromArray(DataType.FLOAT, [], [Math.sqrt(WIDTH / HEADS)]) }),
  );
  const context = b.MatMul(b.Softmax(scores, { axis: -1 }), v);
  const merged = b.Reshape(b.Transpose(context, { perm: [0, 2, 1, 3] }), ints([0, 0, WIDTH]));
  const h = b.Add(x, b.MatMul(merged, wo));
  b.output(b.Add(h, b.Relu(b.MatMul(h, w1))), "y");
  return new OnnxFunction({
    domain: "local",
    name: "Block",
    graph: b.graph,
    opsetImports: [["", 17]],
  });
}

function functionModel(): Model {
  const b = createBuilder({ opset: 17, opsets: { local: 1 } });
  const x = b.input("x", DataType.FLOAT, ["batch", "seq", WIDTH]);
  const weights = ["wq", "wk", "wv", "wo", "w1"].map((name, i) =>
    b.constant(floats(WIDTH * WIDTH, 3 + i, 0.15), [WIDTH, WIDTH], DataType.FLOAT, name),
  );
  const y = b.op("Block", [x, ...weights], {}, { domain: "local", name: "block0" });
  b.output(y, "y", DataType.FLOAT, ["batch", "seq", WIDTH]);
  const model = b.build();
  const fn = blockFunction();
  model.functions.set(fn.key, fn);
  return model;
}

function run(model: Model, x: ort.Tensor): Promise<Float32Array> {
  return runFloat(model, { x }, "y");
}

const passes: PassDefinition[] = [
  ...quantize.passes!,
  ...flashAttention.passes!,
  ...prune.passes!,
  convertOpsetPass as PassDefinition,
];

/** How far each pass may move the output (int4 and 50 % pruning move it most). */
const BOUNDS: Record<string, number> = {
  "quantize/dynamic-int8": 0.05,
  "quantize/static-int8": 0.15,
  "quantize/weight-only": 0.2,
  "quantize/fp16": 0.01,
  "flash-attention/rewrite": 1e-5,
  "prune/unstructured": 0.8,
  "prune/n-m": 0.8,
  "prune/structured": 1,
  "onnx/convert-opset": 1e-6,
};

/** Options where a pass's defaults would leave this small block unchanged or slow. */
const OPTIONS: Record<string, Record<string, unknown>> = {
  "quantize/static-int8": { calibrationSamples: 2 },
  "prune/structured": { heads: 0.5 },
};

describe("every pass reaches the work inside a model-local function", () => {
  const x = float32Tensor(floats(2 * 5 * WIDTH, 8), [2, 5, WIDTH]);

  it.each(passes.map((p) => [p.id, p] as const))("%s", async (id, pass) => {
    const reference = await run(functionModel(), x);
    const tester = new PassTester(pass, { describe, it });
    const { result } = await tester.runCase({
      name: "block in a function",
      model: functionModel,
      options: OPTIONS[id] ?? {},
      expect: { verify: "load" },
    });
    const statistics = result!.statistics ?? {};
    expect(result!.modified, JSON.stringify(statistics)).toBe(true);
    const model = result!.bundle.components.values().next().value!;
    if (id === "onnx/convert-opset") {
      // converted in place: the function's own ai.onnx import follows the model's
      const fn = model.functions.get("local::Block")!;
      expect(fn.opsetImports.get("")).toBe(model.opset(""));
      expect(model.opset("")).toBeGreaterThan(17);
    } else {
      // inlined at its one call: nothing is left unvisited
      expect(statistics["function-calls-inlined"], JSON.stringify(statistics)).toBe(1);
      expect(model.functions.size).toBe(0);
      if ("graphs-not-visited" in statistics) expect(statistics["graphs-not-visited"]).toBe(0);
    }
    if (id === "flash-attention/rewrite") expect(statistics.fused).toBe(1);
    if (id === "quantize/dynamic-int8") expect(statistics["quantized.MatMul"]).toBe(5);
    if (id === "prune/structured") expect(statistics["heads-removed"]).toBe(2);
    else if (id.startsWith("prune/")) expect(statistics["layers-pruned"]).toBe(5);
    const error = relativeL2(reference, await run(model, x));
    expect(error, `${id}: relative L2 ${error}`).toBeLessThan(BOUNDS[id] ?? 0.1);
  });
});
