import { type DataType, type Graph, inferTypes, type Model, type Value } from "@lathe/core";

/** Element types of every value of a model as core's shape inference gives them. */
export function inferredElementTypes(model: Model): Map<Value, DataType> {
  const known = new Map<Value, DataType>();
  for (const [value, type] of inferTypes(model).types)
    if (type.kind === "tensor") known.set(value, type.elemType);
  return known;
}

/**
 * Element types of every value of one graph: what core's shape inference found (`known`, which
 * also holds the values of enclosing graphs this one reads). An output inference could not type
 * (an op of a domain neither it nor the op-schema table knows) takes its declared type, else the
 * type of the node's first typed input, so a Cast at a border is never left out for want of a type.
 */
export function elementTypes(
  graph: Graph,
  known: ReadonlyMap<Value, DataType> = new Map(),
): Map<Value, DataType> {
  const types = new Map<Value, DataType>(known);
  const typeOf = (v: Value | undefined) =>
    v === undefined
      ? undefined
      : (types.get(v) ?? (v.type?.kind === "tensor" ? v.type.elemType : undefined));
  for (const v of graph.inputs) {
    const t = typeOf(v);
    if (t !== undefined) types.set(v, t);
  }
  for (const node of graph) {
    for (const out of node.outputs) {
      if (types.has(out)) continue;
      const t = typeOf(out) ?? node.inputs.map(typeOf).find((x) => x !== undefined);
      if (t !== undefined) types.set(out, t);
    }
  }
  return types;
}
