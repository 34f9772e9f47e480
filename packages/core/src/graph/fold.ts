import { DataType } from "../ir/dtype.js";
import type { Graph } from "../ir/graph.js";
import { Model } from "../ir/model.js";
import { Node } from "../ir/node.js";
import { Tensor } from "../ir/tensor.js";
import { tensorType, type ValueType } from "../ir/types.js";
import type { Value } from "../ir/value.js";
import { constantOf } from "../rewrite/constants.js";
import { inferTypes } from "../shapes/infer.js";
import { removeDeadFrom } from "./dead-code.js";
import { count, fromTensor, type HostTensor, toTensor } from "./host-tensor.js";
import { KERNELS } from "./kernels.js";
import { NameScope } from "./naming.js";
import { replaceValue } from "./replace.js";
import { type GraphScope, graphScopes } from "./traverse.js";

export interface FoldOptions {
  /** Largest result (elements) computed in TypeScript; bigger ones are left (or go to ORT). Default 4096. */
  readonly maxElements?: number;
  /**
   * Learn static shapes by shape inference first (`inferTypes`, the model is not annotated), so
   * `Shape(x)` folds wherever x's shape follows from the inputs. Default true; false: only shapes
   * the model declares.
   */
  readonly inferShapes?: boolean;
}

/** Nodes folded, per op type. */
export interface FoldReport {
  folded: number;
  byOp: Record<string, number>;
}

/** Ops whose result is not a function of their inputs: never folded. */
const NONDETERMINISTIC = new Set([
  "RandomNormal",
  "RandomUniform",
  "RandomNormalLike",
  "RandomUniformLike",
  "Multinomial",
  "Bernoulli",
]);

/**
 * Folds constant subgraphs in TypeScript: every default-domain node whose inputs are constants
 * (initializers, `Constant` nodes, folded results) and whose op has a kernel here — the shape
 * arithmetic exporters write, `Concat(Cast(Constant), Shape(x)…)`, `Gather(Shape(x), 0)`,
 * `Range`, `Expand`, `Where(Equal(…))` — becomes an initializer (a `Constant` node inside a
 * function body). `Shape` and `Size` fold when the input's shape is fully static, which
 * `inferShapes` makes so where it can. Every graph is visited: subgraphs and function bodies too.
 */
export function foldConstants(model: Model, options: FoldOptions = {}): FoldReport {
  const maxElements = options.maxElements ?? 4096;
  const report: FoldReport = { folded: 0, byOp: {} };
  const inferred = options.inferShapes === false ? undefined : inferTypes(model).types;
  const typeOf = (v: Value) => inferred?.get(v) ?? v.type;
  const names = new Map<Graph, NameScope>();
  for (const scope of graphScopes(model)) {
    const root = scope.function?.graph ?? model.graph;
    const scopeNames = names.get(root) ?? new NameScope(root);
    names.set(root, scopeNames);
    const opset = scope.function?.opsetImports.get("") ?? model.opset("") ?? 21;
    for (const node of scope.graph.nodes()) {
      if (node.graph !== scope.graph) continue;
      const results = evaluateNode(node, opset, maxElements, typeOf);
      if (!results) continue;
      substitute(scope, node, results, scopeNames);
      report.folded++;
      report.byOp[node.opType] = (report.byOp[node.opType] ?? 0) + 1;
    }
  }
  return report;
}

/** The node's outputs computed in TypeScript, or undefined when it cannot (or should not) be. */
function evaluateNode(
  node: Node,
  opset: number,
  maxElements: number,
  typeOf: (v: Value) => ValueType | undefined,
): Tensor[] | undefined {
  if (node.domain !== "" || node.opType === "Constant" || NONDETERMINISTIC.has(node.opType))
    return undefined;
  const kernel = KERNELS[node.opType];
  if (!kernel || node.subgraphs().length > 0) return undefined;
  const inputs: (HostTensor | undefined)[] = [];
  for (const [i, value] of node.inputs.entries()) {
    if (!value) {
      inputs.push(undefined);
      continue;
    }
    const host = hostInput(node, i, value, typeOf);
    if (!host) return undefined;
    inputs.push(host);
  }
  const results = kernel(node, inputs, opset);
  if (!results || results.length !== node.outputs.length) return undefined;
  const tensors: Tensor[] = [];
  for (const r of results) {
    if (count(r.dims) > maxElements) return undefined;
    const tensor = toTensor(r);
    if (!tensor) return undefined;
    tensors.push(tensor);
  }
  return tensors;
}

function hostInput(
  node: Node,
  index: number,
  value: Value,
  typeOf: (v: Value) => ValueType | undefined,
): HostTensor | undefined {
  const constant = constantOf(value);
  if (constant) return fromTensor(constant);
  // Shape and Size read only the shape of their input
  if ((node.opType === "Shape" || node.opType === "Size") && index === 0) {
    const type = typeOf(value);
    const dims = type?.kind === "tensor" ? type.shape?.dims : undefined;
    if (dims?.every((d): d is number => typeof d === "number"))
      return { dataType: DataType.FLOAT, dims, values: [] };
  }
  return undefined;
}

/** Replaces the node's outputs with constants holding `results`, then removes it. */
function substitute(scope: GraphScope, node: Node, results: Tensor[], names: NameScope): void {
  const graph = scope.graph;
  node.outputs.forEach((out, i) => {
    const tensor = results[i]!;
    const name = names.name(`${out.name || node.name}_folded`);
    tensor.name = name;
    let constant: Value;
    if (scope.kind === "function") {
      // a function body has no initializers: the constant is a Constant node
      const c = new Node({
        opType: "Constant",
        name,
        outputs: [name],
        attributes: { value: tensor },
      });
      graph.insertBefore(node, c);
      constant = c.output;
    } else {
      constant = graph.addInitializer(tensor, name);
    }
    constant.type = tensorType(tensor.dataType, tensor.dims);
    replaceValue(out, constant, graph, names);
  });
  removeDeadFrom([node], graph);
}

export interface OrtFoldOptions {
  /** Results larger than this (bytes) are left computed at run time (folding would bloat the file). Default 16 MiB. */
  readonly maxBytes?: number;
  /** Runs a model with no inputs and returns the named outputs (core's `openSession` by default). */
  readonly run?: (model: Model, outputs: readonly string[]) => Promise<Record<string, Tensor>>;
}

/**
 * Folds every deterministic constant subgraph of the main graph and its subgraphs on ONNX
 * Runtime, whatever the op or size (after `foldConstants` did the small shape arithmetic):
 * the constant part becomes a model of its own, ORT runs it once, and the results that the rest
 * of the graph reads become initializers.
 */
export async function foldConstantsOnOrt(
  model: Model,
  options: OrtFoldOptions = {},
): Promise<FoldReport> {
  const maxBytes = options.maxBytes ?? 16 * 2 ** 20;
  const run = options.run ?? runWithOpenSession;
  const report: FoldReport = { folded: 0, byOp: {} };
  const names = new NameScope(model);
  const scopes = [...graphScopes(model, { functions: false })];
  for (const scope of scopes) {
    const graph = scope.graph;
    const foldable = new Set<Node>();
    const isConst = (v: Value) => constantOf(v) !== undefined;
    for (const node of graph) {
      if (node.opType === "Constant" || NONDETERMINISTIC.has(node.opType)) continue;
      if (node.subgraphs().length > 0 || (node.domain !== "" && node.domain !== "com.microsoft"))
        continue;
      const present = node.inputs.filter((v): v is Value => v !== undefined);
      if (present.length === 0) continue;
      const ok = present.every((v) => isConst(v) || foldable.has(v.producer()!));
      if (ok) foldable.add(node);
    }
    if (foldable.size === 0) continue;
    const outputs = new Set(graph.outputs);
    const fetch: Value[] = [];
    for (const node of foldable)
      for (const out of node.outputs)
        if (outputs.has(out) || out.uses().some((u) => !foldable.has(u.node))) fetch.push(out);
    if (fetch.length === 0) continue;
    const sub = constantModel(model, [...foldable], fetch);
    const results = await run(
      sub,
      fetch.map((v) => v.name),
    );
    const replaced: Node[] = [];
    for (const out of fetch) {
      const tensor = results[out.name];
      if (!tensor || tensor.byteLength > maxBytes) continue;
      const name = names.name(`${out.name}_folded`);
      const copy = Tensor.fromBytes(tensor.dataType, tensor.dims, tensor.bytes(), { name });
      const constant = graph.addInitializer(copy, name);
      constant.type = tensorType(copy.dataType, copy.dims);
      replaceValue(out, constant, graph, names);
      replaced.push(out.producer()!);
    }
    const before = new Map([...foldable].map((n) => [n, n.opType] as const));
    removeDeadFrom(replaced, graph);
    for (const [node, op] of before) {
      if (node.graph === graph) continue;
      report.folded++;
      report.byOp[op] = (report.byOp[op] ?? 0) + 1;
    }
  }
  return report;
}

/** A model that computes `fetch` from the constants the `nodes` read (copies; the model is untouched). */
function constantModel(model: Model, nodes: readonly Node[], fetch: readonly Value[]): Model {
  const sub = new Model({ irVersion: model.irVersion, opsetImports: model.opsetImports });
  const graph = sub.graph;
  const copies = new Map<Value, Value>();
  const read = (v: Value | undefined): Value | undefined => {
    if (!v) return undefined;
    const found = copies.get(v);
    if (found) return found;
    const tensor = constantOf(v)!;
    const copy = graph.addInitializer(tensor, v.name);
    copies.set(v, copy);
    return copy;
  };
  for (const node of nodes) {
    const copy = new Node({
      opType: node.opType,
      domain: node.domain,
      name: node.name,
      inputs: node.inputs.map(read),
      outputs: node.outputs.map((o) => o.name),
      attributes: [...node.attributes.values()],
    });
    node.outputs.forEach((o, i) => {
      copies.set(o, copy.outputs[i]!);
    });
    graph.append(copy);
  }
  for (const v of fetch) graph.outputs.push(copies.get(v)!);
  return sub;
}

async function runWithOpenSession(
  model: Model,
  outputs: readonly string[],
): Promise<Record<string, Tensor>> {
  const { openSession } = await import("../runtime/session.js");
  const session = await openSession(model, { graphOptimizationLevel: "disabled" });
  try {
    return { ...(await session.run({}, outputs)) };
  } finally {
    await session.release();
  }
}
