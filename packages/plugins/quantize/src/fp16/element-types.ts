import {
  DataType,
  type Graph,
  inferTypes,
  type Model,
  type Node,
  Tensor,
  type Value,
} from "@lathe/core";

const BOOL_OPS = new Set([
  "Equal",
  "Less",
  "Greater",
  "LessOrEqual",
  "GreaterOrEqual",
  "Not",
  "And",
  "Or",
  "Xor",
  "IsNaN",
  "IsInf",
]);
const INT64_OPS = new Set(["Shape", "Size", "NonZero", "ArgMax", "ArgMin"]);

/** Element types of every value of a model as core's shape inference gives them. */
export function inferredElementTypes(model: Model): Map<Value, DataType> {
  const known = new Map<Value, DataType>();
  for (const [value, type] of inferTypes(model).types)
    if (type.kind === "tensor") known.set(value, type.elemType);
  return known;
}

/**
 * Element types of every value of one graph: what core's shape inference found (`known`, which
 * also holds the values of enclosing graphs this one reads), and, for values it could not type
 * (ops it has no inference for), propagation in node order: most ops give their outputs the type
 * of their first input; the exceptions that matter for float conversion are listed.
 */
export function elementTypes(
  graph: Graph,
  known: ReadonlyMap<Value, DataType> = new Map(),
): Map<Value, DataType> {
  const types = new Map<Value, DataType>(known);
  for (const v of graph.inputs)
    if (v.type?.kind === "tensor" && !types.has(v)) types.set(v, v.type.elemType);
  for (const v of graph.initializers.values())
    if (v.constValue instanceof Tensor) types.set(v, v.constValue.dataType);
  for (const node of graph) {
    node.outputs.forEach((out, i) => {
      if (known.has(out)) return;
      const t = outputType(node, i, types);
      if (t !== undefined) types.set(out, t);
      else if (out.type?.kind === "tensor") types.set(out, out.type.elemType);
    });
  }
  return types;
}

function outputType(node: Node, index: number, types: Map<Value, DataType>): DataType | undefined {
  const input = (i: number) => {
    const v = node.inputs[i];
    return v ? types.get(v) : undefined;
  };
  if (node.domain !== "" && node.domain !== "com.microsoft") return undefined;
  switch (node.opType) {
    case "Cast":
      return node.getInt("to");
    case "CastLike":
      return input(1);
    case "Constant": {
      const a = node.attribute("value");
      return a && a.value instanceof Tensor ? a.value.dataType : undefined;
    }
    case "ConstantOfShape": {
      const a = node.attribute("value");
      return a && a.value instanceof Tensor ? a.value.dataType : DataType.FLOAT;
    }
    case "Where":
      return input(1);
    case "TopK":
      return index === 1 ? DataType.INT64 : input(0);
    case "DequantizeLinear":
      return input(1);
    case "QuantizeLinear":
      return input(2) ?? DataType.UINT8;
    case "DynamicQuantizeLinear":
      return index === 1 ? DataType.FLOAT : DataType.UINT8;
    case "MatMulInteger":
    case "ConvInteger":
      return DataType.INT32;
    case "RandomNormal":
    case "RandomUniform":
    case "EyeLike":
      return node.attributes.has("dtype") ? node.getInt("dtype") : DataType.FLOAT;
  }
  if (BOOL_OPS.has(node.opType)) return DataType.BOOL;
  if (INT64_OPS.has(node.opType)) return DataType.INT64;
  if (node.opType === "LayerNormalization" && index > 0) return DataType.FLOAT;
  for (let i = 0; i < node.inputs.length; i++) {
    const t = input(i);
    if (t !== undefined) return t;
  }
  return undefined;
}
