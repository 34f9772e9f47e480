import { NameScope } from "../graph/naming.js";
import { type Attribute, AttributeType, type Int64, isAttributeRef } from "../ir/attribute.js";
import { DataType } from "../ir/dtype.js";
import type { Graph } from "../ir/graph.js";
import type { Model } from "../ir/model.js";
import { Node, type NodeInit } from "../ir/node.js";
import { Tensor } from "../ir/tensor.js";
import type { Value } from "../ir/value.js";

/**
 * What an adapter may do to the model around the node it converts: add constants and nodes
 * under names that collide with nothing. Function bodies cannot hold initializers, so there a
 * constant becomes a `Constant` node.
 */
export class GraphEditor {
  readonly #names: NameScope;
  readonly #functionBodies: ReadonlySet<Graph>;

  constructor(model: Model) {
    this.#names = new NameScope(model);
    this.#functionBodies = new Set([...model.functions.values()].map((f) => f.graph));
    // Function bodies are separate scopes in ONNX; one scope for all keeps names readable.
    for (const body of this.#functionBodies) {
      for (const v of body.inputs) this.#names.reserve(v.name);
      for (const node of body.allNodes()) {
        this.#names.reserve(node.name);
        for (const o of node.outputs) this.#names.reserve(o.name);
      }
    }
  }

  name(stem: string): string {
    return this.#names.name(stem);
  }

  /** A constant visible to `anchor`: an initializer of its graph, or a Constant node before it. */
  constant(anchor: Node, stem: string, tensor: Tensor): Value {
    const graph = graphOf(anchor);
    const name = this.name(`${anchor.name || anchor.opType}_${stem}`);
    tensor.name = name;
    if (!this.#functionBodies.has(graph)) return graph.addInitializer(tensor, name);
    const node = new Node({
      opType: "Constant",
      name: this.name(`${name}_constant`),
      outputs: [name],
      attributes: [{ name: "value", type: AttributeType.TENSOR, value: tensor }],
    });
    graph.insertBefore(anchor, node);
    return node.output;
  }

  int64s(anchor: Node, stem: string, values: readonly Int64[], dims = [values.length]): Value {
    return this.constant(anchor, stem, Tensor.fromArray(DataType.INT64, dims, values.map(BigInt)));
  }

  /** A new node with fresh names for it and its outputs, inserted before `anchor`. */
  insertBefore(
    anchor: Node,
    init: Omit<NodeInit, "name" | "outputs"> & { outputs?: number },
  ): Node {
    const node = this.#create(anchor, init);
    graphOf(anchor).insertBefore(anchor, node);
    return node;
  }

  /** A new node inserted after `anchor`. */
  insertAfter(anchor: Node, init: Omit<NodeInit, "name" | "outputs"> & { outputs?: number }): Node {
    const node = this.#create(anchor, init);
    graphOf(anchor).insertAfter(anchor, node);
    return node;
  }

  /**
   * Puts `node` in `old`'s place: every reader of an output of `old` reads the output of
   * `node` at the same index, which also takes its name and type (graph outputs keep their
   * names); `old` is removed.
   */
  replaceNode(old: Node, node: Node): void {
    const graph = graphOf(old);
    graph.insertBefore(old, node);
    old.outputs.forEach((value, i) => {
      const replacement = node.outputs[i];
      if (!replacement) return;
      const name = value.name;
      value.name = this.name(`${name}_before_conversion`);
      replacement.name = name;
      replacement.type = value.type;
      value.replaceAllUsesWith(replacement, graph);
    });
    graph.remove(old, { force: true });
  }

  /**
   * Makes `value` (an output of `producer`) flow through a new node inserted after `producer`:
   * the new node reads `value` and takes its name, type and readers.
   */
  appendAfter(
    producer: Node,
    value: Value,
    init: Omit<NodeInit, "name" | "outputs" | "inputs"> & { extraInputs?: (Value | undefined)[] },
  ): Node {
    const graph = graphOf(producer);
    const readers = [...value.uses()];
    const name = value.name;
    value.name = this.name(`${name}_before_conversion`);
    const node = new Node({
      ...init,
      name: this.name(`${producer.name || producer.opType}_${init.opType}`),
      inputs: [value, ...(init.extraInputs ?? [])],
      outputs: [name],
    });
    node.output.type = value.type;
    graph.insertAfter(producer, node);
    for (const use of readers) use.node.setInput(use.index, node.output);
    graph.outputs.forEach((out, i) => {
      if (out === value) graph.outputs[i] = node.output;
    });
    return node;
  }

  #create(anchor: Node, init: Omit<NodeInit, "name" | "outputs"> & { outputs?: number }): Node {
    const name = this.name(`${anchor.name || anchor.opType}_${init.opType}`);
    const count = init.outputs ?? 1;
    const outputs = Array.from({ length: count }, (_, i) => this.name(`${name}_output_${i}`));
    return new Node({ ...init, name, outputs });
  }
}

function graphOf(node: Node): Graph {
  const graph = node.graph;
  if (!graph) throw new Error(`node "${node.name}" (${node.opType}) belongs to no graph`);
  return graph;
}

/** The attribute's value when it is a plain (not referenced) attribute of the given type. */
export function plainAttribute(node: Node, name: string): Attribute | undefined {
  const a = node.attributes.get(name);
  return a && !isAttributeRef(a) ? a : undefined;
}

/** An INTS attribute's values as written (int64 values beyond 2^53 stay bigints). */
export function rawInts(node: Node, name: string): Int64[] | undefined {
  const a = plainAttribute(node, name);
  return a?.type === AttributeType.INTS ? a.value : undefined;
}

/**
 * Default-domain ops whose first output has the element type of their first input: enough to
 * follow an undeclared intermediate value back to a declared one.
 */
const SAME_TYPE_AS_INPUT = new Set(
  `Abs Add AveragePool BatchNormalization Ceil Clip Concat Conv ConvTranspose DepthToSpace Div
  Dropout Elu Exp Expand Flatten Floor Gather GatherElements GatherND Gemm GlobalAveragePool
  GlobalMaxPool HardSigmoid Hardmax Identity InstanceNormalization LRN LeakyRelu Log LogSoftmax
  LpNormalization MatMul Max MaxPool Mean Min Mul Neg PRelu Pad Pow Reciprocal ReduceL1 ReduceL2
  ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean ReduceMin ReduceProd ReduceSum
  ReduceSumSquare Relu Reshape Resize Selu Sigmoid Sin Slice Softmax Softplus Softsign
  SpaceToDepth Split Sqrt Squeeze Sub Sum Tanh Tile TopK Transpose Unsqueeze Upsample`.split(/\s+/),
);

/** The element type of a value: declared, constant, or followed back through type-keeping ops. */
export function elementTypeOf(value: Value | undefined): DataType | undefined {
  for (let depth = 0; value && depth < 1000; depth++) {
    if (value.type?.kind === "tensor") return value.type.elemType;
    if (value.constValue instanceof Tensor) return value.constValue.dataType;
    const producer = value.producer();
    if (producer?.domain !== "") return undefined;
    if (producer.opType === "Constant") return constantNodeTensor(value)?.dataType;
    if (producer.opType === "Cast") {
      const to = plainAttribute(producer, "to");
      return to?.type === AttributeType.INT ? (Number(to.value) as DataType) : undefined;
    }
    if (!SAME_TYPE_AS_INPUT.has(producer.opType)) return undefined;
    value = producer.inputs[0];
  }
  return undefined;
}

/** Default-domain ops whose first output has the rank of their first input. */
const SAME_RANK_AS_INPUT = new Set(
  `Abs AveragePool BatchNormalization Cast Ceil Clip Conv ConvTranspose Dropout Elu Exp Floor
  GlobalAveragePool GlobalLpPool GlobalMaxPool HardSigmoid Identity InstanceNormalization LRN
  LeakyRelu Log LogSoftmax LpNormalization LpPool MaxPool Neg PRelu Pad Reciprocal Relu Resize
  Selu Sigmoid Sign Softmax Softplus Softsign Sqrt Tanh Tile Transpose Upsample`.split(/\s+/),
);

/** Ops that broadcast their inputs: the output has the larger rank. */
const BROADCASTING = new Set(
  "Add And Div Equal Greater Less Max Mean Min Mul Or Pow Sub Sum Where Xor".split(" "),
);

/**
 * The rank of a value: declared, constant, or followed back through ops that keep the rank of
 * their input (and broadcasting ops, whose inputs' ranks are all known).
 */
export function rankOf(value: Value | undefined, depth = 0): number | undefined {
  if (!value || depth > 1000) return undefined;
  if (value.type?.kind === "tensor" && value.type.shape) return value.type.shape.dims.length;
  if (value.constValue instanceof Tensor) return value.constValue.dims.length;
  const producer = value.producer();
  if (producer?.domain !== "") return undefined;
  if (producer.opType === "Constant") return constantNodeTensor(value)?.dims.length;
  const input = (i: number) => rankOf(producer.inputs[i], depth + 1);
  const op = producer.opType;
  if (SAME_RANK_AS_INPUT.has(op) || op === "Concat") return input(0);
  if (op === "Gemm" || op === "Flatten") return 2;
  if (op === "Reshape") return constantValues(producer.inputs[1])?.length;
  if (op === "Squeeze" || op === "Unsqueeze") {
    const axes = rawInts(producer, "axes");
    const rank = input(0);
    if (axes === undefined || rank === undefined) return undefined;
    return op === "Squeeze" ? rank - axes.length : rank + axes.length;
  }
  if (BROADCASTING.has(op)) {
    // Before opset 7, B broadcasts onto A: the output has A's rank.
    if (producer.attributes.has("broadcast")) return input(0);
    const ranks = producer.inputs.map((_, i) => input(i));
    return ranks.every((r) => r !== undefined) ? Math.max(...(ranks as number[])) : undefined;
  }
  return undefined;
}

/** The values of a constant input (an initializer or a Constant node's output), if it is one. */
export function constantValues(value: Value | undefined): number[] | undefined {
  if (!value) return undefined;
  const tensor = value.constValue ?? constantNodeTensor(value);
  if (!(tensor instanceof Tensor) || tensor.dataType === DataType.STRING) return undefined;
  return Array.from(tensor.toArray() as ArrayLike<number | bigint>, Number);
}

function constantNodeTensor(value: Value): Tensor | undefined {
  const producer = value.producer();
  if (producer?.opType !== "Constant" || producer.domain !== "") return undefined;
  const a = plainAttribute(producer, "value");
  return a?.type === AttributeType.TENSOR ? a.value : undefined;
}

/** A plain STRING attribute's text. */
export function stringAttribute(node: Node, name: string): string | undefined {
  const a = plainAttribute(node, name);
  if (a?.type !== AttributeType.STRING) return undefined;
  return typeof a.value === "string" ? a.value : new TextDecoder().decode(a.value);
}
