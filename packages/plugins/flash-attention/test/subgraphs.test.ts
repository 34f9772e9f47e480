import {
  createBuilder,
  DataType,
  graphScopes,
  type Model,
  OnnxFunction,
  singleModelBundle,
  type Value,
} from "@lathe/core";
import {
  boolTensor,
  maxOutputDiff,
  type OrtOutputs,
  randomFloat32Tensor,
  randomFloats,
  runOnOrt,
} from "@lathe/core/testing";
import { describe, expect, it } from "vitest";
import { attentionStatistics, rewriteAttention } from "../src/pass.js";
import { DEFAULTS } from "./helpers.js";

const [N, D] = [4, 32];

/** An encoder attention block (BERT-style) built into `b`, reading `x` (possibly from outside). */
function attention(b: ReturnType<typeof createBuilder>, x: Value, seed: number): Value {
  const weight = (s: number) =>
    b.constant(
      randomFloats(D * D, seed + s).map((w) => w * 0.3),
      [D, D],
    );
  const heads = (t: Value) =>
    b.Transpose(b.Reshape(t, b.int64s([0, 0, N, D / N])), { perm: [0, 2, 1, 3] });
  const q = heads(b.MatMul(x, weight(1)));
  const k = heads(b.MatMul(x, weight(2)));
  const v = heads(b.MatMul(x, weight(3)));
  const scores = b.Div(
    b.MatMul(q, b.Transpose(k, { perm: [0, 1, 3, 2] })),
    b.scalar(Math.sqrt(D / N)),
  );
  const context = b.MatMul(b.Softmax(scores, { axis: -1 }), v);
  return b.Reshape(b.Transpose(context, { perm: [0, 2, 1, 3] }), b.int64s([0, 0, D]));
}

/** y = If(cond) { attention(x) } else { x }, and a function whose body holds attention too. */
function branchModel(): Model {
  const b = createBuilder({ opset: 17, opsets: { "custom.ops": 1 } });
  const x = b.input("x", DataType.FLOAT, ["batch", "seq", D]);
  const cond = b.input("cond", DataType.BOOL, []);
  const thenB = createBuilder({ opset: 17, namePrefix: "then" });
  thenB.output(attention(thenB, x, 1), "t");
  const elseB = createBuilder({ opset: 17, namePrefix: "else" });
  elseB.output(elseB.Identity(x), "e");
  const y = b.If(cond, { then_branch: thenB.graph, else_branch: elseB.graph });
  b.output(y, "y", DataType.FLOAT, ["batch", "seq", D]);
  const model = b.build();
  const body = createBuilder({ opset: 17 });
  body.output(attention(body, body.input("fx", DataType.FLOAT), 7), "fy");
  const fn = new OnnxFunction({ domain: "custom.ops", name: "SelfAttention", graph: body.graph });
  fn.opsetImports.set("", 17);
  model.functions.set(fn.key, fn);
  return model;
}

function run(model: Model, flag: boolean): Promise<OrtOutputs> {
  return runOnOrt(model, { x: randomFloat32Tensor([2, 5, D], 3), cond: boolTensor([flag], []) });
}

describe("flash-attention/rewrite inside subgraphs", () => {
  it("fuses attention inside an If branch, counts the function body it left alone; ORT agrees", async () => {
    const original = branchModel();
    const reference = await run(original, true);
    const model = branchModel();
    const reports = rewriteAttention(singleModelBundle(model), { ...DEFAULTS, target: "cpu" });
    const stats = attentionStatistics(reports);
    expect(stats.fused).toBe(1);
    expect(stats["subgraphs-visited"]).toBe(2);
    expect(stats["graphs-not-visited"]).toBe(1);
    expect(stats["softmax-not-visited"]).toBe(1);
    // the fused one and the one left in the function body
    expect(stats["candidate-nodes"]).toBe(2);
    const thenBranch = [...graphScopes(model)].find((s) => s.attribute === "then_branch")!.graph;
    const ops = thenBranch.nodes().map((n) => n.opType);
    expect(ops).toContain("MultiHeadAttention");
    expect(ops).not.toContain("Softmax");
    expect(maxOutputDiff(await run(model, true), reference)).toBeLessThan(1e-4);
    expect(maxOutputDiff(await run(model, false), await run(original, false))).toBe(0);
  });
});

describe("flash-attention/rewrite on a model without attention", () => {
  it("changes nothing and says why: candidate-nodes 0 (no Softmax), as on Silero VAD", () => {
    const b = createBuilder({ opset: 17 });
    const x = b.input("x", DataType.FLOAT, ["batch", D]);
    b.output(b.Relu(b.MatMul(x, b.constant(randomFloats(D * D, 3), [D, D]))), "y");
    const reports = rewriteAttention(singleModelBundle(b.build()), { ...DEFAULTS, target: "cpu" });
    expect([...reports.values()].some((r) => r.modified)).toBe(false);
    const stats = attentionStatistics(reports);
    expect(stats["candidate-nodes"]).toBe(0);
    expect(stats["attention-blocks"]).toBe(0);
  });
});
