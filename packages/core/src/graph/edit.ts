import type { Graph } from "../ir/graph.js";
import type { Model } from "../ir/model.js";
import { Node, type NodeInit } from "../ir/node.js";
import { Tensor } from "../ir/tensor.js";
import { tensorType } from "../ir/types.js";
import type { Value } from "../ir/value.js";
import type { NameScope } from "./naming.js";
import { graphScopes } from "./traverse.js";

/** Where a new node goes: before a node, or at the end of the graph. */
export type InsertAt = Node | undefined;

/**
 * Creates a node with fresh names for it and its outputs (`<name>_output_<i>`) and inserts it
 * before `anchor` (or appends it).
 */
export function insertNode(
  graph: Graph,
  names: NameScope,
  anchor: InsertAt,
  init: Omit<NodeInit, "outputs" | "name"> & { name: string; outputs?: number },
): Node {
  const name = names.name(init.name);
  const n = init.outputs ?? 1;
  const outputs = Array.from({ length: n }, (_, i) => names.name(`${name}_output_${i}`));
  const node = new Node({ ...init, name, outputs });
  if (anchor) graph.insertBefore(anchor, node);
  else graph.append(node);
  return node;
}

/**
 * Adds a constant under a fresh name: an initializer, or, in a function body (which holds no
 * initializers), a `Constant` node at the top of the body.
 */
export function addConstant(
  graph: Graph,
  names: NameScope,
  stem: string,
  tensor: Tensor,
  options: { inFunction?: boolean } = {},
): Value {
  const name = names.name(stem);
  tensor.name = name;
  if (options.inFunction) {
    const node = new Node({
      opType: "Constant",
      name,
      outputs: [name],
      attributes: { value: tensor },
    });
    if (graph.first) graph.insertBefore(graph.first, node);
    else graph.append(node);
    node.output.type = tensorType(tensor.dataType, tensor.dims);
    return node.output;
  }
  return graph.addInitializer(tensor, name);
}

/** Bytes of every stored constant of a model: initializers and `Constant` tensors, in every graph. */
export function constantBytes(model: Model): number {
  let bytes = 0;
  for (const { graph } of graphScopes(model)) {
    for (const value of graph.initializers.values())
      if (value.constValue instanceof Tensor) bytes += value.constValue.byteLength;
    for (const node of graph) {
      if (node.opType !== "Constant" || node.domain !== "") continue;
      const a = node.attribute("value");
      if (a?.value instanceof Tensor) bytes += a.value.byteLength;
    }
  }
  return bytes;
}
