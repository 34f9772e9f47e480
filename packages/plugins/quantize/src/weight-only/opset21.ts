import { attr, DataType, type Model, type Node, Tensor } from "@lathe/core";

const TARGET = 21;

/** Reduce ops whose `axes` attribute became an input at opset 18. */
const REDUCE_AXES_AT_18 = new Set([
  "ReduceMean",
  "ReduceMax",
  "ReduceMin",
  "ReduceProd",
  "ReduceL1",
  "ReduceL2",
  "ReduceLogSum",
  "ReduceLogSumExp",
  "ReduceSumSquare",
]);

/** Ops whose meaning changed between the model's opset and 21 in ways not rewritten here. */
const CHANGED = new Map<string, number>([
  ["GroupNormalization", 21],
  ["GridSample", 20],
  ["DFT", 20],
]);

/**
 * Why the model's default-domain opset cannot be raised to 21, or undefined when it can (by
 * `raiseToOpset21`). Blocked DequantizeLinear needs opset 21; the engine keeps a model's own
 * opset import, so the pass raises it itself.
 */
export function opset21Problem(model: Model): string | undefined {
  const from = model.opset("") ?? 1;
  if (from < 13) return `the model imports opset ${from}; raising below 13 is not supported`;
  for (const node of model.allNodes()) {
    if (node.domain !== "" && node.domain !== "ai.onnx") continue;
    const since = CHANGED.get(node.opType);
    if (since !== undefined && from < since)
      return `${node.opType} (${node.name}) changed meaning at opset ${since}`;
  }
  return undefined;
}

/**
 * Raises the default-domain import to 21 (and the IR version to 10, which int4 needs),
 * rewriting what changed form since opset 13: Reduce* `axes` attributes become inputs (18),
 * Split without sizes gets `num_outputs` (18).
 */
export function raiseToOpset21(model: Model): void {
  const from = model.opset("") ?? TARGET;
  if (from >= TARGET) return;
  if (from < 18) {
    for (const node of model.allNodes()) {
      if (node.domain !== "" && node.domain !== "ai.onnx") continue;
      if (REDUCE_AXES_AT_18.has(node.opType)) moveAxesToInput(node);
      else if (node.opType === "Split" && !node.inputs[1] && !node.attributes.has("num_outputs"))
        node.setAttribute(attr.int("num_outputs", node.outputs.length));
    }
  }
  model.opsetImports.set("", TARGET);
  if (model.irVersion < 10) model.irVersion = 10;
}

function moveAxesToInput(node: Node): void {
  if (!node.attributes.has("axes")) return;
  const axes = node.getInts("axes");
  node.attributes.delete("axes");
  const graph = node.graph;
  if (!graph) return;
  let name = `${node.name}_axes`;
  for (let i = 1; graph.initializers.has(name); i++) name = `${node.name}_axes_${i}`;
  const value = graph.addInitializer(
    Tensor.fromArray(DataType.INT64, [axes.length], axes.map(BigInt)),
    name,
  );
  node.setInput(1, value);
}
