import {
  attr,
  type CheckCode,
  checkModel,
  createBuilder,
  DataType,
  formatFinding,
  type Model,
  Node,
  OnnxFunction,
  Tensor,
  tensorType,
} from "@lathe/core";
import { float32Tensor, runFloat } from "@lathe/core/testing";
import { describe, expect, it } from "vitest";

/** x[2,3] → Relu → MatMul(w) → y, opset 21. */
function small(opset = 21): { model: Model; relu: Node; matmul: Node } {
  const b = createBuilder({ opset });
  const x = b.input("x", DataType.FLOAT, [2, 3]);
  const w = b.constant(new Float32Array(6).fill(0.5), [3, 2], DataType.FLOAT, "w");
  const relu = b.node("Relu", [x], {}, { name: "relu" });
  const matmul = b.node("MatMul", [relu.output, w], {}, { name: "matmul" });
  b.output(matmul.output, "y", DataType.FLOAT, [2, 2]);
  return { model: b.build(), relu, matmul };
}

function codes(model: Model): CheckCode[] {
  return checkModel(model).findings.map((f) => f.code);
}

interface Case {
  name: string;
  build: () => Model;
  code: CheckCode;
  severity?: "error" | "warning";
  message: RegExp;
  hint?: RegExp;
  node?: string;
}

const CASES: Case[] = [
  {
    name: "an op newer than the imported opset (DynamicQuantizeLinear in an opset-9 model)",
    build: () => {
      const { model, relu } = small(9);
      const dql = new Node({
        opType: "DynamicQuantizeLinear",
        name: "dql",
        inputs: [relu.output],
        outputs: ["q", "s", "z"],
      });
      model.graph.append(dql);
      return model;
    },
    code: "OP_NOT_IN_OPSET",
    node: "dql",
    message: /DynamicQuantizeLinear exists in "ai.onnx" from opset 11; the model imports opset 9/,
    hint: /convert the model to opset 11/,
  },
  {
    name: "an op removed at the imported opset",
    build: () => {
      const { model, relu } = small(10);
      const scales = model.graph.addInitializer(
        Tensor.fromArray(DataType.FLOAT, [2], [1, 2]),
        "scales",
      );
      model.graph.append(
        new Node({ opType: "Upsample", name: "up", inputs: [relu.output, scales], outputs: ["u"] }),
      );
      return model;
    },
    code: "OP_REMOVED",
    message: /Upsample was removed from "ai.onnx" at opset 10/,
    hint: /Resize/,
  },
  {
    name: "an op the domain does not have",
    build: () => {
      const { model, relu } = small();
      relu.opType = "Relu6";
      return model;
    },
    code: "UNKNOWN_OP",
    message: /domain "ai.onnx" has no operator "Relu6"/,
    hint: /did you mean "Relu"/,
  },
  {
    name: "a domain the model does not import",
    build: () => {
      const { model, matmul } = small();
      matmul.domain = "com.microsoft";
      matmul.opType = "FusedMatMul";
      return model;
    },
    code: "MISSING_OPSET_IMPORT",
    message: /imports no opset for domain "com.microsoft"/,
  },
  {
    name: "too few inputs",
    build: () => {
      const { model, matmul } = small();
      matmul.truncateInputs(1);
      return model;
    },
    code: "INPUT_COUNT",
    node: "matmul",
    message: /has 1 inputs; MatMul-13 takes 2/,
  },
  {
    name: "a required input left empty",
    build: () => {
      const { model, matmul } = small();
      matmul.setInput(1, undefined);
      return model;
    },
    code: "MISSING_INPUT",
    message: /required input 1 \(B\) of MatMul-13 is empty/,
  },
  {
    name: "an attribute the op does not have",
    build: () => {
      const { model, relu } = small();
      relu.opType = "Softmax";
      relu.setAttribute(attr.int("axes", 1));
      return model;
    },
    code: "UNKNOWN_ATTRIBUTE",
    message: /Softmax-13 has no attribute "axes"/,
    hint: /did you mean "axis"/,
  },
  {
    name: "an attribute of the wrong type",
    build: () => {
      const { model, relu } = small();
      relu.opType = "LeakyRelu";
      relu.setAttribute(attr.int("alpha", 1));
      return model;
    },
    code: "ATTRIBUTE_TYPE",
    message: /attribute "alpha" is INT; LeakyRelu-16 declares it FLOAT/,
  },
  {
    name: "a required attribute missing",
    build: () => {
      const { model, relu } = small();
      relu.opType = "Cast";
      return model;
    },
    code: "MISSING_ATTRIBUTE",
    message: /required attribute "to" \(INT\) of Cast-21 is missing/,
  },
  {
    name: "an input type the op does not allow",
    build: () => {
      const b = createBuilder({ opset: 21 });
      const x = b.input("x", DataType.INT64, [2]);
      b.output(b.node("Sqrt", [x], {}, { name: "sqrt" }).output, "y");
      return b.build();
    },
    code: "TYPE_NOT_ALLOWED",
    message: /input 0 "x" \(X\) is tensor\(int64\); Sqrt-13 allows tensor\(float16\)/,
  },
  {
    name: "two inputs of one type constraint with different types",
    build: () => {
      const b = createBuilder({ opset: 21 });
      const x = b.input("x", DataType.FLOAT, [2]);
      const h = b.input("h", DataType.FLOAT16, [2]);
      b.output(b.node("Add", [x, h], {}, { name: "add" }).output, "y");
      return b.build();
    },
    code: "TYPE_MISMATCH",
    message: /input 1 "h" is tensor\(float16\) but "x" is tensor\(float\)/,
  },
  {
    name: "an input whose producer was removed",
    build: () => {
      const { model, relu } = small();
      model.graph.remove(relu, { force: true });
      return model;
    },
    code: "UNDEFINED_VALUE",
    node: "matmul",
    message: /input 0 ".*" was computed by node "relu" \(Relu\), which is no longer in any graph/,
  },
  {
    name: "nodes out of topological order",
    build: () => {
      const b = createBuilder({ opset: 21 });
      const x = b.input("x", DataType.FLOAT, [2]);
      const first = new Node({ opType: "Relu", name: "first", inputs: [x], outputs: ["a"] });
      const second = new Node({
        opType: "Neg",
        name: "second",
        inputs: [first.output],
        outputs: ["b"],
      });
      b.graph.append(second, first);
      b.output(second.output, "y");
      return b.build();
    },
    code: "USE_BEFORE_DEFINITION",
    node: "second",
    message: /input 0 "a" is read before node "first" \(Relu\) computes it/,
    hint: /sort the graph/,
  },
  {
    name: "one name defined twice",
    build: () => {
      const { model, relu, matmul } = small();
      matmul.output.name = relu.output.name;
      return model;
    },
    code: "DUPLICATE_NAME",
    message: /is defined twice/,
  },
  {
    name: "a subgraph value shadowing an outer one",
    build: () => {
      const b = createBuilder({ opset: 21 });
      const x = b.input("x", DataType.FLOAT, [2]);
      const cond = b.input("cond", DataType.BOOL, []);
      const branch = (prefix: string) => {
        const g = createBuilder({ opset: 21, namePrefix: prefix });
        g.output(g.Neg(x), "x"); // same name as the outer input
        return g.graph;
      };
      b.output(b.If(cond, { then_branch: branch("t"), else_branch: branch("e") }), "y");
      return b.build();
    },
    code: "DUPLICATE_NAME",
    message: /"x" shadows a value of an enclosing graph/,
  },
  {
    name: "an initializer that disagrees with its declared type",
    build: () => {
      const { model } = small();
      model.graph.initializers.get("w")!.type = tensorType(DataType.FLOAT16, [3, 2]);
      return model;
    },
    code: "INITIALIZER_TYPE",
    message: /initializer "w" holds tensor\(float\) but is declared tensor\(float16\)/,
  },
  {
    name: "an IR version older than the opset",
    build: () => {
      const { model } = small();
      model.irVersion = 7;
      return model;
    },
    code: "IR_VERSION",
    severity: "warning",
    message: /IR version 7 is older than opset 21 \(released with IR 10\)/,
  },
  {
    name: "a contrib attribute the table does not know (the table may lag ONNX Runtime)",
    build: () => {
      const b = createBuilder({ opset: 21, opsets: { "com.microsoft": 1 } });
      const x = b.input("x", DataType.FLOAT, [1, 4]);
      b.output(b.domain("com.microsoft").FastGelu(x, { newer_option: 1 }), "y");
      return b.build();
    },
    code: "UNKNOWN_ATTRIBUTE",
    severity: "warning",
    message: /FastGelu-1 has no attribute "newer_option"/,
  },
  {
    name: "a contrib op with more inputs than the (older) contrib table knows",
    build: () => {
      const b = createBuilder({ opset: 21, opsets: { "com.microsoft": 1 } });
      const x = b.input("x", DataType.FLOAT, [1, 4]);
      b.output(b.domain("com.microsoft").FastGelu(x, x, x), "y");
      return b.build();
    },
    code: "INPUT_COUNT",
    severity: "warning",
    message: /has 3 inputs; FastGelu-1 takes 1 to 2/,
  },
  {
    name: "ORT's own LayerNormalization below opset 17 (its graph optimizer writes it)",
    build: () => ortNormModel("LayerNormalization", 14),
    code: "RUNTIME_ONLY_OP",
    severity: "warning",
    message: /LayerNormalization is not in "ai.onnx" at opset 14: it is ONNX Runtime's own/,
    hint: /opset 17/,
  },
  {
    name: "ORT's SimplifiedLayerNormalization in the default domain",
    build: () => ortNormModel("SimplifiedLayerNormalization", 21),
    code: "RUNTIME_ONLY_OP",
    severity: "warning",
    message: /SimplifiedLayerNormalization is not in "ai.onnx" at opset 21/,
  },
];

/** x[2,4] → LayerNormalization or SimplifiedLayerNormalization (default domain) → y, as ORT saves it. */
function ortNormModel(op: string, opset: number): Model {
  const b = createBuilder({ opset });
  const x = b.input("x", DataType.FLOAT, [2, 4]);
  const scale = b.constant(new Float32Array(4).fill(2), [4], DataType.FLOAT, "scale");
  const node = b.node(op, [x, scale], { axis: -1, epsilon: 1e-5, stash_type: 1 }, { name: "norm" });
  b.output(node.output, "y", DataType.FLOAT, [2, 4]);
  return b.build();
}

describe("checkModel", () => {
  it("finds nothing in a valid model with a subgraph reading outer values and a function call", () => {
    const b = createBuilder({ opset: 21, opsets: { "local.fn": 1 } });
    const x = b.input("x", DataType.FLOAT, [2]);
    const cond = b.input("cond", DataType.BOOL, []);
    const outer = b.Relu(x);
    const branch = (prefix: string, op: "Neg" | "Abs") => {
      const g = createBuilder({ opset: 21, namePrefix: prefix });
      g.output(g[op](outer), `${prefix}_out`);
      return g.graph;
    };
    const chosen = b.If(cond, { then_branch: branch("t", "Neg"), else_branch: branch("e", "Abs") });
    const called = b.node("Act", [chosen], {}, { domain: "local.fn", name: "call" }).output;
    b.output(called, "y", DataType.FLOAT, [2]);
    const model = b.build();
    const body = createBuilder({ opset: 21 });
    body.output(body.Sigmoid(body.input("fx", DataType.FLOAT)), "fy");
    model.functions.set(
      "local.fn::Act",
      new OnnxFunction({
        domain: "local.fn",
        name: "Act",
        graph: body.graph,
        opsetImports: [["", 21]],
      }),
    );
    model.opsetImports.set("custom.ops", 1);
    model.graph.append(
      new Node({
        opType: "Mystery",
        domain: "custom.ops",
        name: "mystery",
        inputs: [x],
        outputs: ["m"],
      }),
    );

    const report = checkModel(model);
    expect(report.findings).toEqual([]);
    expect(report.nodesChecked).toBe(6); // Relu, If, Neg, Abs, the call, Sigmoid
    expect(report.unchecked).toEqual({ "custom.ops": 1 });
  });

  for (const c of CASES) {
    it(`reports ${c.code}: ${c.name}`, () => {
      const report = checkModel(c.build());
      const finding = report.findings.find((f) => f.code === c.code);
      expect(finding, JSON.stringify(report.findings, null, 2)).toBeDefined();
      expect(finding!.severity).toBe(c.severity ?? "error");
      expect(finding!.message).toMatch(c.message);
      if (c.hint) expect(finding!.hint).toMatch(c.hint);
      if (c.node) expect(finding!.node).toBe(c.node);
      expect(finding!.hint.length).toBeGreaterThan(0);
      expect(report.errors).toBe(report.findings.filter((f) => f.severity === "error").length);
    });
  }

  it("checks ORT's default-domain norms against ORT's schema: no error, and ORT runs them", async () => {
    for (const [op, opset] of [
      ["LayerNormalization", 14],
      ["SimplifiedLayerNormalization", 14],
      ["SimplifiedLayerNormalization", 21],
    ] as const) {
      const model = ortNormModel(op, opset);
      const report = checkModel(model);
      expect(report.errors, JSON.stringify(report.findings)).toBe(0);
      const x = float32Tensor([1, 2, 3, 4, -1, 0, 1, 2], [2, 4]);
      const y = await runFloat(model, { x }, "y");
      expect(Number.isFinite(y[0]!)).toBe(true);
    }
    // an unknown attribute is still found: the schema is checked, not skipped
    const bad = ortNormModel("SimplifiedLayerNormalization", 14);
    [...bad.graph][0]!.setAttribute(attr.int("groups", 2));
    expect(codes(bad)).toContain("UNKNOWN_ATTRIBUTE");
  });

  it("names the graph path and the node in a finding inside a subgraph", () => {
    const b = createBuilder({ opset: 21 });
    const x = b.input("x", DataType.FLOAT, [2]);
    const cond = b.input("cond", DataType.BOOL, []);
    const thenB = createBuilder({ opset: 21, namePrefix: "t" });
    const bad = thenB.node("Cast", [x], {}, { name: "cast" });
    thenB.output(bad.output, "t_out");
    const elseB = createBuilder({ opset: 21, namePrefix: "e" });
    elseB.output(elseB.Neg(x), "e_out");
    b.output(
      b.node(
        "If",
        [cond],
        { then_branch: thenB.graph, else_branch: elseB.graph },
        { name: "branch" },
      ).output,
      "y",
    );
    const [finding] = checkModel(b.build()).findings;
    expect(formatFinding(finding!)).toBe(
      'main/If "branch"/then_branch › node "cast" (Cast): required attribute "to" (INT) of Cast-21 is missing',
    );
  });

  it("judges tensors of another copy of @lathe/core by their shape, not their class", () => {
    const { model } = small();
    const w = model.graph.initializers.get("w")!;
    // a plugin bundling its own core builds tensors of its copy's class
    w.constValue = Object.assign(Object.create(null), w.constValue) as Tensor;
    w.type = tensorType(DataType.FLOAT16, [3, 2]);
    expect(codes(model)).toEqual(["INITIALIZER_TYPE", "TYPE_MISMATCH"]);
  });

  it("does not change the model", () => {
    const { model } = small();
    const before = model.graph.nodes().map((n) => [n.name, n.inputs.map((v) => v?.name)]);
    codes(model);
    expect(model.graph.nodes().map((n) => [n.name, n.inputs.map((v) => v?.name)])).toEqual(before);
  });
});
