import { DataType } from "../ir/dtype.js";
import type { Graph } from "../ir/graph.js";
import type { Node } from "../ir/node.js";
import type { Tensor } from "../ir/tensor.js";
import type { Dim, ValueType } from "../ir/types.js";

/** What inference knows of a tensor: its element type and, when the rank is known, its dims. */
export interface TensorInfo {
  readonly elemType: DataType;
  readonly dims?: readonly Dim[];
}

/** An op's inferred output: a tensor, any other type, or nothing known. */
export type Inferred = TensorInfo | { readonly type: ValueType } | undefined;

/** What an op's inference function sees of a node. */
export interface InferContext {
  readonly node: Node;
  /** The opset version of the node's domain. */
  readonly opset: number;
  /** Number of inputs, omitted optional ones included. */
  readonly inputCount: number;
  /** Whether input `i` is given (not omitted). */
  has(i: number): boolean;
  /** Input `i` as a tensor, when its element type is known. */
  input(i: number): TensorInfo | undefined;
  /** Input `i`'s full type (sequences, optionals, maps). */
  type(i: number): ValueType | undefined;
  /** Input `i`'s dims when its rank is known. */
  dims(i: number): readonly Dim[] | undefined;
  /** Input `i`'s constant value (initializer, Constant node, or folded). */
  constant(i: number): Tensor | undefined;
  /**
   * The elements of a small integer input as dims, known even when computed from shapes:
   * `Concat(Shape(x)[0], [-1])` is `[batch, -1]` (data propagation, as onnx's `data_prop`).
   */
  values(i: number): readonly Dim[] | undefined;
  /** Records the elements of output `i` for the ops that read it as a shape. */
  setValues(i: number, values: readonly Dim[]): void;
  /** Infers a subgraph whose inputs have the given types; returns its output types. */
  inferSubgraph(
    graph: Graph,
    inputs: readonly (ValueType | undefined)[],
  ): (ValueType | undefined)[];
  /** Infers a model-local function's body for this call; undefined when there is none. */
  inferFunction(): (ValueType | undefined)[] | undefined;
}

export type OpInference = (ctx: InferContext) => Inferred[];

export function tensor(elemType: DataType, dims?: readonly Dim[]): TensorInfo {
  return dims === undefined ? { elemType } : { elemType, dims };
}

/** Normalizes a possibly negative axis against a rank. */
export function axis(a: number, rank: number): number {
  return a < 0 ? a + rank : a;
}

export const INT64 = DataType.INT64;
export const BOOL = DataType.BOOL;
export const FLOAT = DataType.FLOAT;
