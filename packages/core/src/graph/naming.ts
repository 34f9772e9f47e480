import type { Graph } from "../ir/graph.js";
import { Model } from "../ir/model.js";
import { rootGraph } from "./traverse.js";

/**
 * Fresh node and value names that collide with nothing in a graph tree. ONNX names are one
 * namespace across a graph and all of its subgraphs (a branch must not shadow what it reads from
 * outside), so the scope covers the outermost graph and everything under it; a function body is a
 * tree of its own. Share one NameScope per tree while editing it.
 */
export class NameScope {
  readonly #taken = new Set<string>();

  constructor(where: Model | Graph) {
    const root = where instanceof Model ? where.graph : rootGraph(where);
    this.#collect(root);
  }

  #collect(graph: Graph): void {
    for (const v of graph.inputs) this.#taken.add(v.name);
    for (const v of graph.outputs) this.#taken.add(v.name);
    for (const name of graph.initializers.keys()) this.#taken.add(name);
    for (const node of graph) {
      this.#taken.add(node.name);
      for (const o of node.outputs) this.#taken.add(o.name);
      for (const g of node.subgraphs()) this.#collect(g);
    }
  }

  /** `stem` itself when free, else `stem_1`, `stem_2`, …; the name is taken from then on. */
  name(stem: string): string {
    let name = stem;
    for (let i = 1; this.#taken.has(name); i++) name = `${stem}_${i}`;
    this.#taken.add(name);
    return name;
  }

  /** Marks a name as used (one given from outside, e.g. a value a builder named). */
  reserve(name: string): void {
    this.#taken.add(name);
  }

  has(name: string): boolean {
    return this.#taken.has(name);
  }
}
