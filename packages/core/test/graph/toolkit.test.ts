import {
  constantOf,
  createBuilder,
  DataType,
  encodeModel,
  foldConstants,
  foldConstantsOnOrt,
  GraphCoverage,
  graphScopes,
  type Model,
  NameScope,
  OnnxFunction,
  removeDeadCode,
  replaceSubgraph,
  rewriteToFixpoint,
  Tensor,
  visitGraphs,
} from "@lathe/core";
import { randomFloats, runFloats } from "@lathe/core/testing";
import { describe, expect, it } from "vitest";

/** x → If(cond){ then: Neg(x) * w_then; else: Abs(x) } → y, plus a function with a Relu. */
function branchyModel(): Model {
  const b = createBuilder({ opsets: { "custom.fn": 1 } });
  const x = b.input("x", DataType.FLOAT, ["batch", 4]);
  const cond = b.input("cond", DataType.BOOL, []);
  const thenB = createBuilder({ namePrefix: "then" });
  const w = thenB.constant(randomFloats(4, 1), [4], DataType.FLOAT, "w_then");
  thenB.output(thenB.Mul(thenB.Neg(x), w), "t");
  const elseB = createBuilder({ namePrefix: "else" });
  elseB.output(elseB.Abs(x), "e");
  b.output(b.If(cond, { then_branch: thenB.graph, else_branch: elseB.graph }), "y");
  const model = b.build();
  const body = createBuilder();
  const fx = body.input("fx", DataType.FLOAT);
  body.output(body.Relu(fx), "fy");
  const fn = new OnnxFunction({ domain: "custom.fn", name: "Act", graph: body.graph });
  fn.opsetImports.set("", 21);
  model.functions.set(fn.key, fn);
  return model;
}

describe("graph traversal", () => {
  it("visits the main graph, each If branch and each function body, parents first", () => {
    const paths = [...graphScopes(branchyModel())].map((s) => `${s.kind} ${s.path}`);
    expect(paths).toEqual([
      "main main",
      'subgraph main/If "If"/then_branch',
      'subgraph main/If "If"/else_branch',
      "function function custom.fn::Act",
    ]);
  });

  it("counts what a pass left alone, with the reason, and skips a skipped graph's subgraphs", () => {
    const seen: string[] = [];
    const coverage = visitGraphs(
      branchyModel(),
      (scope) => seen.push(scope.path),
      (scope) => (scope.kind === "function" ? "function bodies are shared" : undefined),
    );
    expect(seen).toHaveLength(3);
    expect(coverage.toStatistics()).toEqual({
      "graphs-visited": 3,
      "subgraphs-visited": 2,
      "functions-visited": 0,
      "graphs-not-visited": 1,
      "graphs-not-visited: function bodies are shared": 1,
    });
    const nested = visitGraphs(
      branchyModel(),
      () => {},
      (scope) => (scope.kind === "main" ? "main skipped" : undefined),
      { functions: false },
    );
    expect(nested.notVisited.get("main skipped")).toBe(3);
    const total = new GraphCoverage();
    total.add(coverage);
    total.add(coverage);
    expect(total.visited.subgraph).toBe(4);
  });

  it("does not visit the branches of an If the caller removed", () => {
    const model = branchyModel();
    const visited: string[] = [];
    for (const scope of graphScopes(model, { functions: false })) {
      visited.push(scope.kind);
      if (scope.kind === "main") {
        const ifNode = scope.graph.nodes().find((n) => n.opType === "If")!;
        const y = ifNode.output;
        const abs = createBuilder({ graph: scope.graph }).Abs(scope.graph.inputs[0]!);
        replaceSubgraph(scope.graph, [[y, abs]], new NameScope(model));
      }
    }
    expect(visited).toEqual(["main"]);
    expect(model.graph.outputs[0]!.name).toBe("y");
  });
});

describe("NameScope", () => {
  it("avoids every name of the graph tree, subgraph names included", () => {
    const model = branchyModel();
    const names = new NameScope(model);
    expect(names.name("x")).toBe("x_1");
    expect(names.name("w_then")).toBe("w_then_1");
    expect(names.name("t")).toBe("t_1");
    expect(names.name("fresh")).toBe("fresh");
    expect(names.name("fresh")).toBe("fresh_1");
    // a scope made from a branch covers the whole tree it sits in
    const branch = [...graphScopes(model)][1]!.graph;
    expect(new NameScope(branch).name("y")).toBe("y_1");
  });
});

describe("dead code", () => {
  it("removes unread nodes and initializers, inside branches too, keeping outputs", () => {
    const b = createBuilder();
    const x = b.input("x", DataType.FLOAT, [4]);
    const cond = b.input("cond", DataType.BOOL, []);
    const unusedOuter = b.Exp(b.Sin(x)); // read only by a dead node inside a branch
    const thenB = createBuilder({ namePrefix: "then" });
    thenB.Cos(unusedOuter); // dead
    thenB.constant([1, 2], [2], DataType.FLOAT, "dead_weight");
    thenB.output(thenB.Neg(x), "t");
    const elseB = createBuilder({ namePrefix: "else" });
    elseB.output(elseB.Abs(x), "e");
    b.output(b.If(cond, { then_branch: thenB.graph, else_branch: elseB.graph }), "y");
    b.constant([3], [1], DataType.FLOAT, "dead_outer");
    const model = b.build();
    const report = removeDeadCode(model.graph);
    expect(report).toEqual({ nodes: 3, initializers: 2 });
    expect(model.graph.nodes().map((n) => n.opType)).toEqual(["If"]);
    expect(thenB.graph.nodes().map((n) => n.opType)).toEqual(["Neg"]);
  });
});

describe("constant folding", () => {
  /** Reshape(x, Concat(Cast(Constant), Gather(Shape(x), 1), Constant)) as exporters write it. */
  function shapeArithmetic(): Model {
    const b = createBuilder({ opset: 17 });
    const x = b.input("x", DataType.FLOAT, [2, 3, 4]);
    const shape = b.Shape(x);
    const d1 = b.Unsqueeze(b.Gather(shape, b.scalar(1, DataType.INT64)), b.int64s([0]));
    const batch = b.Constant({ value: Tensor.fromArray(DataType.INT32, [1], [2]) });
    const target = b.Concat(b.Cast(batch, { to: DataType.INT64 }), d1, b.int64s([-1]), { axis: 0 });
    b.output(b.Reshape(x, target), "y", DataType.FLOAT, [2, 3, 4]);
    return b.build();
  }

  it("folds Concat(Cast(Constant), Shape arithmetic) into one initializer, same outputs on ORT", async () => {
    const model = shapeArithmetic();
    const feeds = { x: { data: randomFloats(24, 3), dims: [2, 3, 4] } };
    const before = await runFloats(encodeModel(model), feeds);
    const report = foldConstants(model);
    expect(report.byOp).toMatchObject({ Shape: 1, Gather: 1, Unsqueeze: 1, Cast: 1, Concat: 1 });
    const ops = model.graph.nodes().map((n) => n.opType);
    expect(ops).toEqual(["Reshape"]);
    const target = constantOf(model.graph.first!.inputs[1]);
    expect(Array.from(target!.toArray() as BigInt64Array, Number)).toEqual([2, 3, -1]);
    const after = await runFloats(encodeModel(model), feeds);
    expect(after.y).toEqual(before.y);
  });

  it("folds Shape of a value whose shape inference makes static, without annotating the model", () => {
    const b = createBuilder({ opset: 17 });
    const x = b.input("x", DataType.FLOAT, [2, 6]);
    const hidden = b.Relu(x); // no declared type: only inference knows it is [2, 6]
    const rows = b.Gather(b.Shape(hidden), b.int64s([0]));
    b.output(b.Reshape(hidden, b.Concat(rows, b.int64s([3, 2]), { axis: 0 })), "y");
    const model = b.build();
    expect(foldConstants(model, { inferShapes: false }).folded).toBe(0);
    expect(foldConstants(model).byOp).toEqual({ Shape: 1, Gather: 1, Concat: 1 });
    expect(hidden.type).toBeUndefined();
  });

  it("leaves Shape of a symbolic shape alone", () => {
    const b = createBuilder();
    const x = b.input("x", DataType.FLOAT, ["batch", 4]);
    b.output(b.Shape(x), "s");
    const model = b.build();
    expect(foldConstants(model).folded).toBe(0);
  });

  it("folds inside If branches and function bodies (as Constant nodes there)", () => {
    const b = createBuilder();
    const cond = b.input("cond", DataType.BOOL, []);
    const thenB = createBuilder({ namePrefix: "then" });
    thenB.output(thenB.Add(thenB.int64s([1, 2]), thenB.int64s([10, 20])), "t");
    const elseB = createBuilder({ namePrefix: "else" });
    elseB.output(elseB.Identity(elseB.int64s([0, 0])), "e");
    b.output(b.If(cond, { then_branch: thenB.graph, else_branch: elseB.graph }), "y");
    const model = b.build();
    const body = createBuilder();
    const fx = body.input("fx", DataType.INT64);
    body.output(
      body.Add(fx, body.Mul(body.Constant({ value_int: 3 }), body.Constant({ value_int: 4 }))),
      "fy",
    );
    const fn = new OnnxFunction({ domain: "custom", name: "Plus12", graph: body.graph });
    model.functions.set(fn.key, fn);
    const report = foldConstants(model);
    expect(report.byOp).toEqual({ Add: 1, Identity: 1, Mul: 1 });
    // the branch output keeps its name, now carried by an Identity of the folded constant
    expect(thenB.graph.outputs[0]!.name).toBe("t");
    const folded = constantOf(thenB.graph.outputs[0]!.producer()!.inputs[0]);
    expect(Array.from(folded!.toArray() as BigInt64Array, Number)).toEqual([11, 22]);
    const fnOps = body.graph.nodes().map((n) => n.opType);
    expect(fnOps).toEqual(["Constant", "Add"]);
    expect(constantOf(body.graph.last!.inputs[1])!.scalar()).toBe(12);
  });

  it("declines what it cannot compute exactly: int64 beyond 2^53, integer division by zero", () => {
    const b = createBuilder();
    b.output(b.Add(b.constant([2n ** 60n], [1], DataType.INT64), b.int64s([1])), "big");
    b.output(b.Div(b.int64s([1]), b.int64s([0])), "div0");
    expect(foldConstants(b.build()).folded).toBe(0);
  });

  it("folds big or unusual constant subgraphs on ONNX Runtime, same outputs", async () => {
    const b = createBuilder();
    const x = b.input("x", DataType.FLOAT, [64, 64]);
    const w = b.constant(randomFloats(64 * 64, 5), [64, 64], DataType.FLOAT, "w");
    // Transpose(Softmax(w)) of a 4096-element weight: no TypeScript kernel, folded on ORT
    const prepared = b.Transpose(b.Softmax(w, { axis: -1 }), { perm: [1, 0] });
    b.output(b.MatMul(x, prepared), "y");
    const model = b.build();
    const feeds = { x: { data: randomFloats(64 * 64, 6), dims: [64, 64] } };
    const before = await runFloats(encodeModel(model), feeds);
    const report = await foldConstantsOnOrt(model);
    expect(report.byOp).toEqual({ Softmax: 1, Transpose: 1 });
    expect(model.graph.nodes().map((n) => n.opType)).toEqual(["MatMul"]);
    expect(model.graph.initializers.has("w")).toBe(false);
    const after = await runFloats(encodeModel(model), feeds);
    expect(after.y).toEqual(before.y);
  });
});

describe("rewriting to a fixpoint", () => {
  it("repeats rewrites until a round changes nothing, and refuses to loop forever", () => {
    const b = createBuilder();
    const x = b.input("x", DataType.FLOAT, [4]);
    let v = x;
    for (let i = 0; i < 3; i++) v = b.Identity(v);
    b.output(b.Neg(v), "y");
    const model = b.build();
    const names = new NameScope(model);
    // one Identity per round, to show the rounds
    const dropIdentity = {
      name: "drop-identity",
      apply(m: Model): number {
        const node = m.graph.nodes().find((n) => n.opType === "Identity");
        if (!node) return 0;
        replaceSubgraph(m.graph, [[node.output, node.inputs[0]!]], names);
        return 1;
      },
    };
    const report = rewriteToFixpoint(model, [dropIdentity]);
    expect(report).toEqual({ rounds: 4, changes: { "drop-identity": 3 } });
    expect(model.graph.nodes().map((n) => n.opType)).toEqual(["Neg"]);
    const flipFlop = { name: "flip-flop", apply: () => 1 };
    expect(() => rewriteToFixpoint(model, [flipFlop], { maxRounds: 5 })).toThrow(/flip-flop/);
  });
});
