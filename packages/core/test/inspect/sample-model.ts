import { createBuilder, DataType, Graph, type Model, OnnxFunction, Tensor } from "@lathe/core";

/**
 * A small model that touches every part of a summary: metadata, a com.microsoft op, an If with
 * an initializer in one branch, a model-local function, Constant nodes (tensor and value_ints),
 * and weights large enough to go to external data.
 *
 *   logits = Reshape(Double(If(use_relu, Relu(y), y * 2) + offset), [-1, 8])
 *   y = Gelu(x @ w1 + bias) @ w2
 */
export function sampleModel(): Model {
  const b = createBuilder({ opset: 21, opsets: { "com.microsoft": 1 } });
  const x = b.input("x", DataType.FLOAT, ["batch", 16]);
  const useRelu = b.input("use_relu", DataType.BOOL, []);
  const w1 = b.constant(ramp(16 * 32, 0.01), [16, 32], DataType.FLOAT, "w1");
  const bias = b.constant(ramp(32, 0.1), [32], DataType.FLOAT, "bias");
  const w2 = b.constant(ramp(32 * 8, -0.02), [32, 8], DataType.FLOAT, "w2");
  const hidden = b.domain("com.microsoft").Gelu!(b.Add(b.MatMul(x, w1), bias));
  const y = b.MatMul(hidden, w2);

  // ORT requires subgraphs to be named.
  const thenBranch = createBuilder({
    namePrefix: "then",
    graph: new Graph({ name: "then_branch" }),
  });
  thenBranch.output(thenBranch.Relu(y), "then_out", DataType.FLOAT, ["batch", 8]);
  const elseBranch = createBuilder({
    namePrefix: "else",
    graph: new Graph({ name: "else_branch" }),
  });
  const two = elseBranch.scalar(2, DataType.FLOAT, "two");
  elseBranch.output(elseBranch.Mul(y, two), "else_out", DataType.FLOAT, ["batch", 8]);
  const chosen = b.node(
    "If",
    [useRelu],
    { then_branch: thenBranch.graph, else_branch: elseBranch.graph },
    { outputs: ["chosen"] },
  ).output;

  const offset = b.node("Constant", [], {
    value: Tensor.fromArray(DataType.FLOAT, [8], ramp(8, 1)),
  }).output;
  const doubled = b.node("Double", [b.Add(chosen, offset)], {}, { domain: "local" }).output;
  const shape = b.node("Constant", [], { value_ints: [-1, 8] }).output;
  b.output(b.Reshape(doubled, shape), "logits", DataType.FLOAT, ["batch", 8]);

  const model = b.build({ producerName: "lathe-test", producerVersion: "0.0.1" });
  model.graph.name = "main";
  model.domain = "ai.lathe.test";
  model.modelVersion = 3;
  model.docString = "A model for inspect tests.\nThe second line is not shown.";
  model.metadataProps.set("author", "lathe tests");
  model.metadataProps.set("license", "MIT");
  model.functions.set("local::Double", doubleFunction());
  return model;
}

/** `local::Double(a) = a + a`. */
function doubleFunction(): OnnxFunction {
  const body = createBuilder({ namePrefix: "double" });
  const a = body.input("a", DataType.FLOAT);
  body.output(body.Add(a, a), "out");
  return new OnnxFunction({
    domain: "local",
    name: "Double",
    graph: body.graph,
    opsetImports: [["", 21]],
  });
}

function ramp(count: number, step: number): number[] {
  return Array.from({ length: count }, (_, i) => Math.fround(((i % 17) - 8) * step));
}

/**
 * Save options that put w1 (2048 bytes) and w2 (1024 bytes) in two external-data files and keep
 * bias (128 bytes) and the If branch's scalar inline.
 */
export const SAMPLE_EXTERNAL_DATA = { threshold: 1024, maxFileBytes: 2100 } as const;
