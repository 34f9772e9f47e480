import { DataType, type Model, type Node, Tensor, type Value } from "@lathe/core";
import { expect } from "vitest";

export function node(model: Model, name: string): Node {
  const found = model.graph.nodes().find((n) => n.name === name);
  if (!found) throw new Error(`no node ${name}`);
  return found;
}

/** Op types of the nodes under a module path (its submodules included), in graph order. */
export function scopeOps(model: Model, scope: string): string[] {
  return model.graph
    .nodes()
    .filter((n) => n.name.startsWith(scope))
    .map((n) => n.opType);
}

/** A float initializer's values. */
export function floats(model: Model, initializer: string): Float32Array {
  const tensor = model.graph.initializers.get(initializer)?.constValue;
  if (!(tensor instanceof Tensor) || tensor.dataType !== DataType.FLOAT)
    throw new Error(`no float initializer ${initializer}`);
  return tensor.toArray() as Float32Array;
}

/** The dims of a graph input's or output's tensor type. */
export function dimsOf(value: Value | undefined): unknown {
  return value?.type?.kind === "tensor" ? value.type.shape?.dims : undefined;
}

/** The value of a `Constant` node's `value` attribute. */
export function constantTensor(producer: Node | undefined): Tensor {
  const value = producer?.attribute("value")?.value;
  if (!(value instanceof Tensor)) throw new Error(`${producer?.name} is not a Constant`);
  return value;
}

export interface PathOptions {
  /**
   * Step over casts to the type their input already has, as onnxruntime's optimizer does
   * (`remove_useless_cast_nodes`) before its fusions match paths.
   */
  skipUselessCasts?: boolean;
}

/** onnxruntime's `match_parent_path`: follows input `indices[i]` and expects `types[i]`. */
export function parentPath(
  start: Node,
  types: readonly string[],
  indices: readonly number[],
  options: PathOptions = {},
): Node[] {
  const path: Node[] = [];
  let current = start;
  types.forEach((type, i) => {
    let parent = current.inputs[indices[i] ?? 0]?.producer();
    while (options.skipUselessCasts && parent && isUselessCast(parent))
      parent = parent.inputs[0]?.producer();
    expect(parent?.opType, `${types.slice(0, i + 1).join(" ← ")} from ${start.name}`).toBe(type);
    current = parent as Node;
    path.push(current);
  });
  return path;
}

function isUselessCast(node: Node): boolean {
  const input = node.inputs[0];
  return node.opType === "Cast" && input !== undefined && node.getInt("to") === elementType(input);
}

const BOOLEAN_OPS = new Set(["Equal", "Less", "Greater", "Not", "And", "Or", "Xor"]);

/** A value's element type, inferred for the ops the zoo's exporters write (no value_info). */
export function elementType(value: Value): DataType {
  if (value.type?.kind === "tensor") return value.type.elemType;
  if (value.constValue instanceof Tensor) return value.constValue.dataType;
  const producer = value.producer();
  if (!producer) throw new Error(`${value.name} has no type and no producer`);
  switch (producer.opType) {
    case "Constant":
      return constantTensor(producer).dataType;
    case "ConstantOfShape": {
      const fill = producer.attribute("value")?.value;
      return fill instanceof Tensor ? fill.dataType : DataType.FLOAT;
    }
    case "Cast":
      return producer.getInt("to");
    case "Shape":
      return DataType.INT64;
    case "Where":
      return elementType(producer.inputs[1] as Value);
    default:
      if (BOOLEAN_OPS.has(producer.opType)) return DataType.BOOL;
      return elementType(producer.inputs[0] as Value);
  }
}
