import { errors } from "../diagnostics.js";
import type { Node } from "./node.js";
import type { SparseTensor } from "./sparse-tensor.js";
import type { Tensor } from "./tensor.js";
import { Value } from "./value.js";

/** ONNX TensorAnnotation: quantization parameters attached to a tensor by name. */
export interface TensorAnnotation {
  tensorName: string;
  quantParameterTensorNames: [string, string][];
}

export interface GraphInit {
  name?: string;
  docString?: string;
  inputs?: Value[];
  outputs?: Value[];
}

/**
 * A graph: inputs, outputs, initializers and an ordered list of nodes. The node list is an
 * intrusive doubly linked list, so inserting and removing are O(1) even in 100k-node graphs.
 * A subgraph (If/Loop/Scan body) may read values of enclosing graphs directly.
 */
export class Graph {
  name: string;
  docString: string;
  readonly metadataProps = new Map<string, string>();
  readonly inputs: Value[];
  readonly outputs: Value[];
  /** Initializers by name; each value's `constValue` holds the tensor. */
  readonly initializers = new Map<string, Value>();
  readonly quantizationAnnotations: TensorAnnotation[] = [];
  /** For a subgraph: the node whose attribute holds it (kept up to date by Node). */
  parent: Node | undefined;
  #first: Node | undefined;
  #last: Node | undefined;
  #count = 0;

  constructor(init: GraphInit = {}) {
    this.name = init.name ?? "";
    this.docString = init.docString ?? "";
    this.inputs = init.inputs ?? [];
    this.outputs = init.outputs ?? [];
  }

  get nodeCount(): number {
    return this.#count;
  }

  *[Symbol.iterator](): IterableIterator<Node> {
    let node = this.#first;
    while (node) {
      const next = node._next; // read first: the caller may remove `node`
      yield node;
      node = next;
    }
  }

  /** A snapshot of the nodes in order. */
  nodes(): Node[] {
    return [...this];
  }

  /** This graph's nodes and, depth first, those of every subgraph. */
  *allNodes(): IterableIterator<Node> {
    for (const node of this) {
      yield node;
      for (const g of node.subgraphs()) yield* g.allNodes();
    }
  }

  get first(): Node | undefined {
    return this.#first;
  }

  get last(): Node | undefined {
    return this.#last;
  }

  append(...nodes: Node[]): void {
    for (const node of nodes) this.#link(node, this.#last, undefined);
  }

  insertBefore(anchor: Node, ...nodes: Node[]): void {
    this.#checkOwned(anchor);
    for (const node of nodes) this.#link(node, anchor._prev, anchor);
  }

  insertAfter(anchor: Node, ...nodes: Node[]): void {
    this.#checkOwned(anchor);
    let prev = anchor;
    for (const node of nodes) {
      this.#link(node, prev, prev._next);
      prev = node;
    }
  }

  /**
   * Removes a node and detaches it from its inputs. Refuses while its outputs are still read
   * (inside the graph or as graph outputs), unless `force` is set.
   */
  remove(node: Node, options: { force?: boolean } = {}): void {
    this.#checkOwned(node);
    if (!options.force) {
      for (const out of node.outputs) {
        if (out.uses().length > 0 || this.outputs.includes(out)) {
          throw errors.irMisuse(
            `cannot remove node "${node.name}" (${node.opType}): its output "${out.name}" is still used`,
          );
        }
      }
    }
    node._dropInputs();
    if (node._prev) node._prev._next = node._next;
    else this.#first = node._next;
    if (node._next) node._next._prev = node._prev;
    else this.#last = node._prev;
    node._prev = node._next = node._graph = undefined;
    this.#count--;
  }

  /** Adds an initializer (a constant value) and returns its Value. */
  addInitializer(tensor: Tensor | SparseTensor, name = tensor.name): Value {
    if (this.initializers.has(name)) {
      throw errors.irMisuse(`graph "${this.name}" already has an initializer named "${name}"`);
    }
    const value = new Value(name);
    value.constValue = tensor;
    this.initializers.set(name, value);
    return value;
  }

  /** Removes an initializer that nothing reads any more. */
  removeInitializer(name: string): void {
    const value = this.initializers.get(name);
    if (!value) return;
    if (value.uses().length > 0 || this.outputs.includes(value)) {
      throw errors.irMisuse(`initializer "${name}" is still used`);
    }
    this.initializers.delete(name);
    const at = this.inputs.indexOf(value);
    if (at >= 0) this.inputs.splice(at, 1);
  }

  /**
   * Orders nodes so every node comes after the producers of its inputs, including values a
   * subgraph reads from this graph. Stable: an already sorted graph keeps its order. Throws on a
   * cycle, naming a node in it.
   */
  sort(): void {
    const nodes = this.nodes();
    const position = new Map<Node, number>();
    nodes.forEach((n, i) => {
      position.set(n, i);
    });
    const dependents = new Map<Node, Node[]>();
    const pending = new Map<Node, number>();
    for (const node of nodes) {
      const producers = new Set<Node>();
      for (const value of readsOf(node)) {
        const producer = ownerInGraph(value.producer(), this);
        if (producer && producer !== node && position.has(producer)) producers.add(producer);
      }
      pending.set(node, producers.size);
      for (const p of producers) {
        const list = dependents.get(p);
        if (list) list.push(node);
        else dependents.set(p, [node]);
      }
    }
    // Kahn's algorithm with a min-heap on the original position keeps the order stable.
    const ready = new MinHeap<Node>((a, b) => position.get(a)! - position.get(b)!);
    for (const node of nodes) if (pending.get(node) === 0) ready.push(node);
    const order: Node[] = [];
    while (ready.size > 0) {
      const node = ready.pop()!;
      order.push(node);
      for (const d of dependents.get(node) ?? []) {
        const left = pending.get(d)! - 1;
        pending.set(d, left);
        if (left === 0) ready.push(d);
      }
    }
    if (order.length !== nodes.length) {
      const stuck = nodes.find((n) => pending.get(n)! > 0)!;
      throw errors.invalidModel(
        `graph "${this.name}"`,
        `the graph has a cycle through node "${stuck.name}" (${stuck.opType})`,
      );
    }
    this.#first = this.#last = undefined;
    for (const node of order) node._prev = node._next = undefined;
    this.#count = 0;
    for (const node of order) {
      node._graph = undefined;
      this.#link(node, this.#last, undefined);
    }
  }

  #link(node: Node, prev: Node | undefined, next: Node | undefined): void {
    if (node._graph) {
      throw errors.irMisuse(`node "${node.name}" (${node.opType}) already belongs to a graph`);
    }
    node._graph = this;
    node._prev = prev;
    node._next = next;
    if (prev) prev._next = node;
    else this.#first = node;
    if (next) next._prev = node;
    else this.#last = node;
    this.#count++;
  }

  #checkOwned(node: Node): void {
    if (node._graph !== this) {
      throw errors.irMisuse(`node "${node.name}" (${node.opType}) is not in graph "${this.name}"`);
    }
  }
}

/** Values a node reads: its inputs and whatever its subgraphs capture from outside. */
function* readsOf(node: Node): IterableIterator<Value> {
  for (const v of node.inputs) if (v) yield v;
  for (const g of node.subgraphs()) {
    for (const inner of g.allNodes()) for (const v of inner.inputs) if (v) yield v;
  }
}

/** The node of `graph` that contains `node` (itself, or the ancestor holding its subgraph). */
function ownerInGraph(node: Node | undefined, graph: Graph): Node | undefined {
  let current = node;
  while (current && current._graph !== graph) {
    current = current._graph?.parent;
  }
  return current;
}

class MinHeap<T> {
  readonly #items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => number) {}
  get size(): number {
    return this.#items.length;
  }
  push(item: T): void {
    const items = this.#items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.less(items[i]!, items[parent]!) >= 0) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }
  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && this.less(items[l]!, items[m]!) < 0) m = l;
        if (r < items.length && this.less(items[r]!, items[m]!) < 0) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m]!, items[i]!];
        i = m;
      }
    }
    return top;
  }
}
