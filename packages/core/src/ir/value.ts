import { errors } from "../diagnostics.js";
import type { Graph } from "./graph.js";
import type { Node } from "./node.js";
import type { SparseTensor } from "./sparse-tensor.js";
import type { Tensor } from "./tensor.js";
import type { ValueType } from "./types.js";

/** One place a value is read: input `index` of `node`. */
export interface Use {
  readonly node: Node;
  readonly index: number;
}

/**
 * A value in the graph (an SSA edge): a graph input, an initializer, or a node output.
 * It knows its producer and every use, so rewrites never search the graph by name.
 */
export class Value {
  name: string;
  type: ValueType | undefined;
  docString = "";
  readonly metadataProps = new Map<string, string>();
  /** Set for initializers (and sparse initializers): the constant this value always holds. */
  constValue: Tensor | SparseTensor | undefined;
  #producer: Node | undefined;
  #outputIndex = -1;
  readonly #uses: Use[] = [];

  constructor(name = "", type?: ValueType) {
    this.name = name;
    this.type = type;
  }

  /** The node that computes this value; undefined for graph inputs and initializers. */
  producer(): Node | undefined {
    return this.#producer;
  }

  /** Which output of its producer this value is (-1 when it has none). */
  get outputIndex(): number {
    return this.#outputIndex;
  }

  uses(): readonly Use[] {
    return this.#uses;
  }

  get isConstant(): boolean {
    return this.constValue !== undefined;
  }

  /**
   * Makes every reader of this value read `other` instead: node inputs here and in subgraphs,
   * and the outputs of `graph` when given (so the model's outputs follow the rewrite).
   */
  replaceAllUsesWith(other: Value, graph?: Graph): void {
    if (other === this) return;
    for (const use of [...this.#uses]) use.node.setInput(use.index, other);
    if (graph) {
      graph.outputs.forEach((out, i) => {
        if (out === this) graph.outputs[i] = other;
      });
    }
  }

  /** @internal Maintained by Node; not part of the public contract. */
  _setProducer(node: Node | undefined, index: number): void {
    if (node && this.#producer && this.#producer !== node) {
      throw errors.irMisuse(
        `value "${this.name}" is already produced by node "${this.#producer.name}"`,
      );
    }
    this.#producer = node;
    this.#outputIndex = node ? index : -1;
  }

  /** @internal */
  _addUse(node: Node, index: number): void {
    this.#uses.push({ node, index });
  }

  /** @internal */
  _removeUse(node: Node, index: number): void {
    const at = this.#uses.findIndex((u) => u.node === node && u.index === index);
    if (at >= 0) this.#uses.splice(at, 1);
  }
}
