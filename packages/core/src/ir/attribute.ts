import { Graph } from "./graph.js";
import type { SparseTensor } from "./sparse-tensor.js";
import { Tensor } from "./tensor.js";
import type { ValueType } from "./types.js";

/** ONNX AttributeProto.AttributeType numbers. */
export enum AttributeType {
  UNDEFINED = 0,
  FLOAT = 1,
  INT = 2,
  STRING = 3,
  TENSOR = 4,
  GRAPH = 5,
  FLOATS = 6,
  INTS = 7,
  STRINGS = 8,
  TENSORS = 9,
  GRAPHS = 10,
  SPARSE_TENSOR = 11,
  SPARSE_TENSORS = 12,
  TYPE_PROTO = 13,
  TYPE_PROTOS = 14,
}

/**
 * An int64 attribute value: a number when it fits a double exactly, otherwise a bigint
 * (exporters write INT64_MAX as "to the end"; rounding it would change the model).
 */
export type Int64 = number | bigint;

/** Attribute strings are bytes in ONNX; valid UTF-8 is decoded, anything else is kept as bytes. */
export type AttrString = string | Uint8Array;

export type AttributeValue =
  | { type: AttributeType.FLOAT; value: number }
  | { type: AttributeType.INT; value: Int64 }
  | { type: AttributeType.STRING; value: AttrString }
  | { type: AttributeType.TENSOR; value: Tensor }
  | { type: AttributeType.GRAPH; value: Graph }
  | { type: AttributeType.SPARSE_TENSOR; value: SparseTensor }
  | { type: AttributeType.TYPE_PROTO; value: ValueType }
  | { type: AttributeType.FLOATS; value: number[] }
  | { type: AttributeType.INTS; value: Int64[] }
  | { type: AttributeType.STRINGS; value: AttrString[] }
  | { type: AttributeType.TENSORS; value: Tensor[] }
  | { type: AttributeType.GRAPHS; value: Graph[] }
  | { type: AttributeType.SPARSE_TENSORS; value: SparseTensor[] }
  | { type: AttributeType.TYPE_PROTOS; value: ValueType[] };

/**
 * A named attribute. Inside a function body an attribute may instead refer to one of the
 * function's attributes (`refAttrName`); then `value` is absent and `refType` says its type.
 */
export type Attribute = AttributeValue & {
  name: string;
  docString?: string;
};

export interface AttributeRef {
  name: string;
  type: AttributeType;
  refAttrName: string;
  docString?: string;
}

export function isAttributeRef(attr: Attribute | AttributeRef): attr is AttributeRef {
  return "refAttrName" in attr;
}

/** Shorthand constructors, so builders and passes read `attr.ints("perm", [0, 2, 1, 3])`. */
export const attr = {
  float: (name: string, value: number): Attribute => ({ name, type: AttributeType.FLOAT, value }),
  int: (name: string, value: Int64): Attribute => ({ name, type: AttributeType.INT, value }),
  string: (name: string, value: string): Attribute => ({ name, type: AttributeType.STRING, value }),
  tensor: (name: string, value: Tensor): Attribute => ({ name, type: AttributeType.TENSOR, value }),
  graph: (name: string, value: Graph): Attribute => ({ name, type: AttributeType.GRAPH, value }),
  floats: (name: string, value: number[]): Attribute => ({
    name,
    type: AttributeType.FLOATS,
    value,
  }),
  ints: (name: string, value: Int64[]): Attribute => ({ name, type: AttributeType.INTS, value }),
  strings: (name: string, value: string[]): Attribute => ({
    name,
    type: AttributeType.STRINGS,
    value,
  }),
  graphs: (name: string, value: Graph[]): Attribute => ({
    name,
    type: AttributeType.GRAPHS,
    value,
  }),
};

/** Builds an attribute from a plain JS value, inferring its ONNX type (used by the builder). */
export function attributeFromJs(name: string, value: unknown): Attribute {
  if (typeof value === "number") {
    return Number.isInteger(value) && !Object.is(value, -0)
      ? attr.int(name, value)
      : attr.float(name, value);
  }
  if (typeof value === "bigint") return attr.int(name, value);
  if (typeof value === "string") return attr.string(name, value);
  if (Array.isArray(value)) {
    if (value.length === 0) return attr.ints(name, []);
    if (value.every((v) => typeof v === "string")) return attr.strings(name, value);
    if (value.every((v) => typeof v === "number" || typeof v === "bigint")) {
      return value.every((v) => typeof v === "bigint" || Number.isInteger(v))
        ? attr.ints(name, value)
        : attr.floats(name, value.map(Number));
    }
  }
  if (value instanceof Tensor) return attr.tensor(name, value);
  if (value instanceof Graph) return attr.graph(name, value);
  if (typeof value === "object" && value !== null && "type" in value && "value" in value) {
    return { ...(value as AttributeValue), name }; // the map key wins over the attribute's own name
  }
  throw new TypeError(
    `attribute "${name}": cannot infer an ONNX attribute type from ${String(value)}`,
  );
}
