import type { Graph } from "../ir/graph.js";
import type { Model } from "../ir/model.js";
import { DEFAULT_DOMAIN_NAME, type NodeCounts } from "./summary.js";

/** A graph and, depth first, every subgraph nested in its nodes. */
export function* graphAndSubgraphs(graph: Graph): IterableIterator<Graph> {
  yield graph;
  for (const node of graph) {
    for (const sub of node.subgraphs()) yield* graphAndSubgraphs(sub);
  }
}

/** Every graph whose contents the model stores: the main graph, subgraphs, function bodies. */
export function* allGraphs(model: Model): IterableIterator<Graph> {
  yield* graphAndSubgraphs(model.graph);
  for (const fn of model.functions.values()) yield* graphAndSubgraphs(fn.graph);
}

export function countNodes(model: Model): NodeCounts {
  let total = 0;
  for (const _ of model.graph.allNodes()) total++;
  let functionBodies = 0;
  for (const fn of model.functions.values()) {
    for (const _ of fn.graph.allNodes()) functionBodies++;
  }
  const mainGraph = model.graph.nodeCount;
  return { total, mainGraph, subgraphs: total - mainGraph, functionBodies };
}

/** domain → op type → count over the main graph and its subgraphs, largest first. */
export function opHistogram(model: Model): Record<string, Record<string, number>> {
  const byDomain = new Map<string, Map<string, number>>();
  for (const node of model.graph.allNodes()) {
    const domain = node.domain === "" ? DEFAULT_DOMAIN_NAME : node.domain;
    let ops = byDomain.get(domain);
    if (!ops) {
      ops = new Map();
      byDomain.set(domain, ops);
    }
    ops.set(node.opType, (ops.get(node.opType) ?? 0) + 1);
  }
  const domains = [...byDomain].map(([domain, ops]) => ({
    domain,
    ops: sortByCount([...ops]),
    total: [...ops.values()].reduce((a, b) => a + b, 0),
  }));
  domains.sort((a, b) => b.total - a.total || compareText(a.domain, b.domain));
  return Object.fromEntries(domains.map((d) => [d.domain, Object.fromEntries(d.ops)]));
}

function sortByCount(entries: [string, number][]): [string, number][] {
  return entries.sort(([a, x], [b, y]) => y - x || compareText(a, b));
}

/** Locale-independent ordering, so summaries are identical on every machine. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
