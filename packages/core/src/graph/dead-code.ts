import type { Graph } from "../ir/graph.js";
import type { Model } from "../ir/model.js";
import type { Node } from "../ir/node.js";
import type { Value } from "../ir/value.js";
import { graphScopes } from "./traverse.js";

/** What dead-code removal took out. */
export interface DeadCodeReport {
  nodes: number;
  initializers: number;
}

/**
 * Removes nodes whose outputs nothing reads (ONNX ops have no side effects, so unread means dead)
 * and initializers nothing reads, in `graph` and, first, inside its subgraphs (what a branch
 * stops reading from outside may make an outer node dead). Graph inputs and outputs stay, and
 * so do initializers listed as graph inputs (older IR versions let callers override them).
 */
export function removeDeadCode(graph: Graph): DeadCodeReport {
  const report: DeadCodeReport = { nodes: 0, initializers: 0 };
  const outputs = new Set<Value>(graph.outputs);
  // Reverse topological order: a node's readers come after it, so one sweep removes chains.
  for (const node of graph.nodes().reverse()) {
    if (isDead(node, outputs)) {
      graph.remove(node);
      report.nodes++;
    } else {
      for (const sub of node.subgraphs()) add(report, removeDeadCode(sub));
      // a subgraph that now reads less may have made nodes before this one dead: the sweep
      // continues upwards, so they are still seen
    }
  }
  report.initializers += removeUnusedInitializers(graph);
  return report;
}

/** Removes initializers that nothing reads and that are not graph inputs or outputs. */
export function removeUnusedInitializers(graph: Graph): number {
  let removed = 0;
  const outputs = new Set<Value>(graph.outputs);
  const inputs = new Set<Value>(graph.inputs);
  for (const [name, value] of [...graph.initializers]) {
    if (value.uses().length > 0 || outputs.has(value) || inputs.has(value)) continue;
    graph.removeInitializer(name);
    removed++;
  }
  return removed;
}

/** `removeDeadCode` on the main graph and every function body of a model. */
export function removeDeadCodeInModel(model: Model): DeadCodeReport {
  const report: DeadCodeReport = { nodes: 0, initializers: 0 };
  for (const scope of graphScopes(model, { subgraphs: false }))
    add(report, removeDeadCode(scope.graph));
  return report;
}

function isDead(node: Node, outputs: ReadonlySet<Value>): boolean {
  return node.outputs.every((o) => o.uses().length === 0 && !outputs.has(o));
}

function add(into: DeadCodeReport, more: DeadCodeReport): void {
  into.nodes += more.nodes;
  into.initializers += more.initializers;
}

/**
 * Removes what became dead after an edit, starting from `seeds` (nodes whose outputs may have
 * lost their readers) and walking up to the producers of what they read; initializers that
 * nothing reads any more go too. Cheaper than a whole-graph sweep after a local rewrite.
 */
export function removeDeadFrom(seeds: Iterable<Node>, graph: Graph): DeadCodeReport {
  const report: DeadCodeReport = { nodes: 0, initializers: 0 };
  const outputs = new Set<Value>(graph.outputs);
  const work = [...seeds];
  while (work.length > 0) {
    const node = work.pop()!;
    if (node.graph !== graph || !isDead(node, outputs)) continue;
    const inputs = node.inputs.filter((i): i is Value => i !== undefined);
    graph.remove(node);
    report.nodes++;
    for (const input of inputs) {
      const producer = input.producer();
      if (producer) work.push(producer);
      else if (
        graph.initializers.get(input.name) === input &&
        input.uses().length === 0 &&
        !outputs.has(input) &&
        !graph.inputs.includes(input)
      ) {
        graph.removeInitializer(input.name);
        report.initializers++;
      }
    }
  }
  return report;
}
