import { type Attribute, AttributeType, type AttrString } from "../ir/attribute.js";
import { DataType, dataTypeInfo } from "../ir/dtype.js";
import type { Model } from "../ir/model.js";
import type { Node } from "../ir/node.js";
import { SparseTensor } from "../ir/sparse-tensor.js";
import type { Tensor } from "../ir/tensor.js";
import { allGraphs } from "./graph-stats.js";

/**
 * A constant the model stores: an initializer or the value of a Constant node. Sizes come from
 * dims and data types (`Tensor.byteLength`), so external data is never read.
 */
export interface StoredTensor {
  name: string;
  source: "initializer" | "constant";
  dtype: string;
  dims: number[];
  count: number;
  bytes: number;
  /** The tensors holding the data (a sparse tensor: values and indices); empty for scalar attributes. */
  parts: Tensor[];
}

/** Every initializer and Constant value of the model, each stored object once. */
export function storedTensors(model: Model): StoredTensor[] {
  const seen = new Set<Tensor | SparseTensor>();
  const stored: StoredTensor[] = [];
  const add = (constant: Tensor | SparseTensor, name: string, source: StoredTensor["source"]) => {
    if (seen.has(constant)) return;
    seen.add(constant);
    stored.push(describe(constant, name, source));
  };
  for (const graph of allGraphs(model)) {
    for (const [name, value] of graph.initializers) {
      if (value.constValue) add(value.constValue, name, "initializer");
    }
    for (const node of graph) {
      if (!isConstantNode(node)) continue;
      const name = node.outputs[0]?.name || node.name;
      for (const attribute of node.attributes.values()) {
        if ("refAttrName" in attribute) continue; // a function attribute: nothing is stored here
        if (
          attribute.type === AttributeType.TENSOR ||
          attribute.type === AttributeType.SPARSE_TENSOR
        ) {
          add(attribute.value, name, "constant");
        } else {
          const scalar = scalarConstant(attribute, name);
          if (scalar) stored.push(scalar);
        }
      }
    }
  }
  return stored;
}

function describe(
  constant: Tensor | SparseTensor,
  name: string,
  source: StoredTensor["source"],
): StoredTensor {
  if (constant instanceof SparseTensor) {
    const parts = constant.indices ? [constant.values, constant.indices] : [constant.values];
    return {
      name,
      source,
      dtype: dataTypeInfo(constant.values.dataType).name,
      dims: [...constant.dims],
      count: constant.values.elementCount,
      bytes: parts.reduce((sum, t) => sum + t.byteLength, 0),
      parts,
    };
  }
  return {
    name,
    source,
    dtype: dataTypeInfo(constant.dataType).name,
    dims: [...constant.dims],
    count: constant.elementCount,
    bytes: constant.byteLength,
    parts: [constant],
  };
}

/** Constant's `value_float(s)`, `value_int(s)` and `value_string(s)` forms, as the tensors they mean. */
function scalarConstant(attribute: Attribute, name: string): StoredTensor | undefined {
  const of = (dataType: DataType, dims: number[], bytes: number): StoredTensor => ({
    name,
    source: "constant",
    dtype: dataTypeInfo(dataType).name,
    dims,
    count: dims.reduce((a, b) => a * b, 1),
    bytes,
    parts: [],
  });
  switch (attribute.type) {
    case AttributeType.FLOAT:
      return of(DataType.FLOAT, [], 4);
    case AttributeType.FLOATS:
      return of(DataType.FLOAT, [attribute.value.length], 4 * attribute.value.length);
    case AttributeType.INT:
      return of(DataType.INT64, [], 8);
    case AttributeType.INTS:
      return of(DataType.INT64, [attribute.value.length], 8 * attribute.value.length);
    case AttributeType.STRING:
      return of(DataType.STRING, [], utf8Length(attribute.value));
    case AttributeType.STRINGS:
      return of(
        DataType.STRING,
        [attribute.value.length],
        attribute.value.reduce((sum, s) => sum + utf8Length(s), 0),
      );
    default:
      return undefined;
  }
}

function utf8Length(value: AttrString): number {
  return typeof value === "string" ? new TextEncoder().encode(value).length : value.length;
}

function isConstantNode(node: Node): boolean {
  return node.domain === "" && node.opType === "Constant";
}
