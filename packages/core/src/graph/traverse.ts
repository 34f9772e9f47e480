import { AttributeType, isAttributeRef } from "../ir/attribute.js";
import type { OnnxFunction } from "../ir/function.js";
import type { Graph } from "../ir/graph.js";
import type { Model } from "../ir/model.js";
import type { Node } from "../ir/node.js";

/** Where a graph sits in a model: the main graph, a node's subgraph, or a function body. */
export interface GraphScope {
  readonly graph: Graph;
  readonly kind: "main" | "subgraph" | "function";
  /** For a subgraph: the node whose attribute holds it (`If`, `Loop`, `Scan`, …). */
  readonly owner?: Node;
  /** For a subgraph: the attribute holding it (`then_branch`, `body`). */
  readonly attribute?: string;
  /** For a function body (and subgraphs inside it): the function. */
  readonly function?: OnnxFunction;
  /** The enclosing scope (undefined for the main graph and function bodies). */
  readonly parent?: GraphScope;
  /** For messages: `main`, `main/If "cond"/then_branch`, `function com.acme::Gelu`. */
  readonly path: string;
}

export interface TraverseOptions {
  /** Visit function bodies too (default true). */
  readonly functions?: boolean;
  /** Descend into subgraphs of If/Loop/Scan (default true). */
  readonly subgraphs?: boolean;
}

/**
 * Every graph of a model, parents before their subgraphs: the main graph, each node's subgraphs
 * at any depth, then each model-local function's body and its subgraphs. Lazy: a graph's
 * subgraphs are listed after the caller has handled the graph itself, so a pass that removed an
 * `If` does not visit its branches.
 */
export function* graphScopes(
  model: Model,
  options: TraverseOptions = {},
): IterableIterator<GraphScope> {
  yield* walk({ graph: model.graph, kind: "main", path: "main" }, options);
  if (options.functions === false) return;
  for (const fn of model.functions.values()) {
    const path = `function ${fn.domain}::${fn.name}${fn.overload ? `::${fn.overload}` : ""}`;
    yield* walk({ graph: fn.graph, kind: "function", function: fn, path }, options);
  }
}

function* walk(scope: GraphScope, options: TraverseOptions): IterableIterator<GraphScope> {
  yield scope;
  if (options.subgraphs === false) return;
  for (const node of scope.graph.nodes()) {
    if (node.graph !== scope.graph) continue; // removed while the caller handled this graph
    for (const [attribute, graph] of subgraphsOf(node)) {
      yield* walk(
        {
          graph,
          kind: "subgraph",
          owner: node,
          attribute,
          ...(scope.function ? { function: scope.function } : {}),
          parent: scope,
          path: `${scope.path}/${node.opType} "${node.name}"/${attribute}`,
        },
        options,
      );
    }
  }
}

/** A node's subgraphs with the attribute holding each (`then_branch`, `body`, `branches[1]`). */
export function subgraphsOf(node: Node): [string, Graph][] {
  const found: [string, Graph][] = [];
  for (const a of node.attributes.values()) {
    if (isAttributeRef(a)) continue;
    if (a.type === AttributeType.GRAPH) found.push([a.name, a.value]);
    else if (a.type === AttributeType.GRAPHS)
      a.value.forEach((g, i) => {
        found.push([`${a.name}[${i}]`, g]);
      });
  }
  return found;
}

/** The outermost graph enclosing `graph` (itself when it is not a subgraph). */
export function rootGraph(graph: Graph): Graph {
  let current = graph;
  while (current.parent?.graph) current = current.parent.graph;
  return current;
}

/** Every node of the model with the scope it sits in. */
export function* nodesWithScope(
  model: Model,
  options: TraverseOptions = {},
): IterableIterator<{ node: Node; scope: GraphScope }> {
  for (const scope of graphScopes(model, options))
    for (const node of scope.graph) yield { node, scope };
}

/**
 * What a pass visited and what it left alone, by reason, for its statistics: a pass must never
 * report "0 changed" about a graph it did not look at.
 */
export class GraphCoverage {
  readonly visited = { main: 0, subgraph: 0, function: 0 };
  readonly notVisited = new Map<string, number>();

  /** Records a visited scope. */
  visit(scope: GraphScope): void {
    this.visited[scope.kind]++;
  }

  /** Records a scope left alone, with the reason (counted per reason). */
  skip(reason: string): void {
    this.notVisited.set(reason, (this.notVisited.get(reason) ?? 0) + 1);
  }

  /** Adds another coverage's counts (one per bundle component). */
  add(other: GraphCoverage): void {
    for (const kind of ["main", "subgraph", "function"] as const)
      this.visited[kind] += other.visited[kind];
    for (const [reason, n] of other.notVisited)
      this.notVisited.set(reason, (this.notVisited.get(reason) ?? 0) + n);
  }

  get notVisitedCount(): number {
    let n = 0;
    for (const v of this.notVisited.values()) n += v;
    return n;
  }

  /**
   * `graphs-visited`, `subgraphs-visited`, `functions-visited`, `graphs-not-visited` and one
   * `graphs-not-visited: <reason>` per reason.
   */
  toStatistics(): Record<string, number> {
    const stats: Record<string, number> = {
      "graphs-visited": this.visited.main + this.visited.subgraph + this.visited.function,
      "subgraphs-visited": this.visited.subgraph,
      "functions-visited": this.visited.function,
      "graphs-not-visited": this.notVisitedCount,
    };
    for (const [reason, n] of this.notVisited) stats[`graphs-not-visited: ${reason}`] = n;
    return stats;
  }
}

/** Decides whether a pass handles a scope: a reason to leave it alone, or undefined. */
export type ScopeFilter = (scope: GraphScope) => string | undefined;

/**
 * Runs `visit` on every graph of the model (see `graphScopes`) that `skip` does not exclude, and
 * returns the coverage. A skipped graph's own subgraphs are skipped with it (same reason).
 */
export function visitGraphs(
  model: Model,
  visit: (scope: GraphScope) => void,
  skip?: ScopeFilter,
  options: TraverseOptions = {},
): GraphCoverage {
  const coverage = new GraphCoverage();
  const skipped = new Set<Graph>();
  for (const scope of graphScopes(model, options)) {
    const reason = skipReason(scope, skip, skipped);
    if (reason) {
      coverage.skip(reason);
      continue;
    }
    coverage.visit(scope);
    visit(scope);
  }
  return coverage;
}

/** `visitGraphs` for a visitor that awaits (calibration runs, ORT sessions). */
export async function visitGraphsAsync(
  model: Model,
  visit: (scope: GraphScope) => Promise<void> | void,
  skip?: ScopeFilter,
  options: TraverseOptions = {},
): Promise<GraphCoverage> {
  const coverage = new GraphCoverage();
  const skipped = new Set<Graph>();
  for (const scope of graphScopes(model, options)) {
    const reason = skipReason(scope, skip, skipped);
    if (reason) {
      coverage.skip(reason);
      continue;
    }
    coverage.visit(scope);
    await visit(scope);
  }
  return coverage;
}

function skipReason(
  scope: GraphScope,
  skip: ScopeFilter | undefined,
  skipped: Set<Graph>,
): string | undefined {
  if (scope.parent && skipped.has(scope.parent.graph)) {
    skipped.add(scope.graph);
    return skipReasons.get(scope.parent.graph);
  }
  const reason = skip?.(scope);
  if (reason) {
    skipped.add(scope.graph);
    skipReasons.set(scope.graph, reason);
  }
  return reason;
}

const skipReasons = new WeakMap<Graph, string>();
