import { type Graph, type Model, Node, type NodeInit, Tensor, type Value } from "@lathe/core";

/** Bytes of every stored constant: initializers and `Constant` node tensors of the main graph. */
export function constantBytes(model: Model): number {
  let bytes = 0;
  for (const value of model.graph.initializers.values()) {
    if (value.constValue instanceof Tensor) bytes += value.constValue.byteLength;
  }
  for (const node of model.graph) {
    if (node.opType !== "Constant" || node.domain !== "") continue;
    const a = node.attribute("value");
    if (a && a.value instanceof Tensor) bytes += a.value.byteLength;
  }
  return bytes;
}

/**
 * Removes what a rewrite left unread: initializers, and Constant/Transpose nodes whose outputs
 * nothing reads (repeated, so a Transpose's constant goes too). Graph inputs stay.
 */
export function removeDeadConstants(graph: Graph): void {
  let changed = true;
  while (changed) {
    changed = false;
    for (const node of graph) {
      if (node.domain !== "" || (node.opType !== "Constant" && node.opType !== "Transpose"))
        continue;
      if (node.outputs.some((o) => o.uses().length > 0 || graph.outputs.includes(o))) continue;
      graph.remove(node);
      changed = true;
    }
  }
  for (const [name, value] of [...graph.initializers]) {
    if (
      value.uses().length === 0 &&
      !graph.outputs.includes(value) &&
      !graph.inputs.includes(value)
    )
      graph.removeInitializer(name);
  }
}

/** Fresh node and value names that collide with nothing in the graph. */
export class Namer {
  readonly #taken = new Set<string>();

  constructor(graph: Graph) {
    for (const v of graph.inputs) this.#taken.add(v.name);
    for (const name of graph.initializers.keys()) this.#taken.add(name);
    for (const node of graph.allNodes()) {
      this.#taken.add(node.name);
      for (const o of node.outputs) this.#taken.add(o.name);
    }
  }

  name(stem: string): string {
    let name = stem;
    for (let i = 1; this.#taken.has(name); i++) name = `${stem}_${i}`;
    this.#taken.add(name);
    return name;
  }
}

/** Creates a node with fresh names for it and its outputs, inserted before `anchor`. */
export function insertNode(
  graph: Graph,
  namer: Namer,
  anchor: Node,
  init: Omit<NodeInit, "outputs" | "name"> & { name: string; outputs?: number },
): Node {
  const name = namer.name(init.name);
  const count = init.outputs ?? 1;
  const outputs = Array.from({ length: count }, (_, i) => namer.name(`${name}_output_${i}`));
  const node = new Node({ ...init, name, outputs });
  graph.insertBefore(anchor, node);
  return node;
}

/** Adds an initializer under a fresh name. */
export function addConstant(graph: Graph, namer: Namer, stem: string, tensor: Tensor): Value {
  const name = namer.name(stem);
  tensor.name = name;
  return graph.addInitializer(tensor, name);
}

/**
 * Makes `replacement` take the place of `node`'s single output: it takes the output's name
 * (graph outputs keep theirs), every reader reads it, and `node` is removed.
 */
export function replaceNodeOutput(
  graph: Graph,
  namer: Namer,
  node: Node,
  replacement: Value,
): void {
  const old = node.output;
  const name = old.name;
  old.name = namer.name(`${name}_replaced`);
  replacement.name = name;
  replacement.type = old.type;
  old.replaceAllUsesWith(replacement, graph);
  graph.remove(node);
}
