import {
  constantBytes,
  createNameFilter,
  type Graph,
  GraphCoverage,
  type GraphScope,
  inlineFunctions,
  type Logger,
  type Model,
  type ModelBundle,
  type NameFilterOptions,
  type NamePattern,
  type Node,
  nodesWithScope,
  type ScopeFilter,
  visitGraphsAsync,
} from "@lathe/core";

/** Which nodes a quantization pass may touch, from its options. */
export interface NodeFilter extends NameFilterOptions {
  readonly opTypes: readonly string[];
}

/** The `include` / `exclude` options every quantization pass takes (core's one meaning). */
export interface NodeFilterOptions {
  /**
   * Patterns on node names (JavaScript regular expressions, searched anywhere in the name: a plain
   * name matches every name containing it; anchor with ^ and $, escape . ( [ with \ to match them
   * literally). When any are given, only matching nodes are quantized; empty: all.
   * @default []
   */
  include: NamePattern[];
  /**
   * Patterns on node names (JavaScript regular expressions, searched anywhere in the name: a plain
   * name matches every name containing it; anchor with ^ and $, escape . ( [ with \ to match them
   * literally). Matching nodes stay in float, also when include matches them.
   * @default []
   */
  exclude: NamePattern[];
}

/** A predicate over nodes; returns why a node is not selected, or undefined when it is. */
export function createNodeFilter(filter: NodeFilter): (node: Node) => string | undefined {
  const byName = createNameFilter(filter);
  const ops = new Set(filter.opTypes);
  return (node) => {
    if (node.domain !== "" || !ops.has(node.opType)) return "op type not selected";
    return byName(node.name);
  };
}

/** Counts of quantized and skipped nodes with their reasons, as pass statistics. */
export class QuantStats {
  readonly quantized = new Map<string, number>();
  readonly skipped = new Map<string, number>();
  readonly skippedNodes: { node: string; op: string; reason: string }[] = [];
  /** Pass-specific statistics (calibration findings), reported after the counts. */
  readonly extra: Record<string, number | string> = {};
  /**
   * What the user must not miss (a result that may be poor): reported as `warning` statistics,
   * which the report keeps and `lathe run` shows beside the candidate.
   */
  readonly warnings: string[] = [];

  quantize(op: string): void {
    this.quantized.set(op, (this.quantized.get(op) ?? 0) + 1);
  }

  /** Records a skipped node; `group` is the statistics key when `reason` names a place. */
  skip(node: Node, reason: string, group = reason): void {
    this.skipped.set(group, (this.skipped.get(group) ?? 0) + 1);
    this.skippedNodes.push({ node: node.name, op: node.opType, reason });
  }

  get quantizedCount(): number {
    let n = 0;
    for (const v of this.quantized.values()) n += v;
    return n;
  }

  /** `nodes-quantized`, one `quantized.<Op>` per op, `skipped.<reason>` per reason, sizes. */
  toStatistics(bytesBefore: number, bytesAfter: number): Record<string, number | string> {
    const stats: Record<string, number | string> = { "nodes-quantized": this.quantizedCount };
    for (const [op, n] of this.quantized) stats[`quantized.${op}`] = n;
    stats["nodes-skipped"] = this.skippedNodes.length;
    for (const [reason, n] of this.skipped) stats[`skipped: ${reason}`] = n;
    stats["weight-bytes-before"] = bytesBefore;
    stats["weight-bytes-after"] = bytesAfter;
    stats["size-ratio"] = bytesBefore > 0 ? Number((bytesAfter / bytesBefore).toFixed(4)) : 1;
    Object.assign(stats, this.extra);
    this.warnings.forEach((w, i) => {
      stats[i === 0 ? "warning" : `warning ${i + 1}`] = w;
    });
    return stats;
  }
}

/** One graph a quantization pass works on: a component's main graph, a subgraph, a function body. */
export interface QuantizeScope {
  readonly component: string;
  readonly model: Model;
  readonly scope: GraphScope;
  readonly graph: Graph;
}

export interface TraversalOptions {
  /** Why the pass leaves a graph alone (function bodies, subgraphs it cannot calibrate), or undefined. */
  readonly skipScope?: ScopeFilter;
  /** The nodes the pass would have worked on: counted as skipped, with the reason, in a graph it leaves alone. */
  readonly candidate?: (node: Node) => boolean;
}

/**
 * Runs `quantize` on every graph of each component (the main graph, If/Loop/Scan bodies at any
 * depth, function bodies; see core's `visitGraphs`) and sums the constant bytes before and after;
 * logs the first skipped nodes. Returns the stats and the statistics a quantization pass reports,
 * with the graphs visited and the graphs not visited by reason (their candidate nodes count as
 * skipped with that reason too).
 */
export async function quantizeComponents(
  bundle: ModelBundle,
  logger: Logger,
  quantize: (scope: QuantizeScope, stats: QuantStats) => void | Promise<void>,
  options: TraversalOptions = {},
): Promise<{ stats: QuantStats; statistics: Record<string, number | string> }> {
  const stats = new QuantStats();
  const coverage = new GraphCoverage();
  let before = 0;
  let after = 0;
  let candidates: number | undefined;
  if (options.candidate) {
    candidates = 0;
    for (const model of bundle.components.values())
      for (const { node } of nodesWithScope(model)) if (options.candidate(node)) candidates++;
  }
  let inlinedCalls = 0;
  for (const [component, model] of bundle.components) {
    before += constantBytes(model);
    // a function whose body holds candidates is inlined at its calls (as ONNX Runtime does
    // when it loads the model): its weights then sit in the graph that calls it
    const candidate = options.candidate;
    const inlined = candidate
      ? inlineFunctions(model, { select: (fn) => [...fn.graph.allNodes()].some(candidate) })
      : undefined;
    inlinedCalls += inlined?.calls ?? 0;
    if (inlined?.calls)
      logger.info(
        `inlined ${inlined.calls} call(s) of ${inlined.functions.join(", ")}: their bodies hold nodes to quantize`,
      );
    const skip: ScopeFilter = (scope) => {
      const refused = scope.kind === "function" && inlined?.refused.get(scope.function!.key);
      if (refused && options.candidate) {
        for (const node of scope.graph.allNodes())
          if (options.candidate(node))
            stats.skip(
              node,
              `in ${scope.path}: function not inlined: ${refused}`,
              "function not inlined",
            );
        return `function body not inlined: ${refused}`;
      }
      const reason = options.skipScope?.(scope);
      if (reason && options.candidate) {
        for (const node of scope.graph.allNodes())
          if (options.candidate(node)) stats.skip(node, `in ${scope.path}: ${reason}`, reason);
      }
      return reason;
    };
    coverage.add(
      await visitGraphsAsync(
        model,
        (scope) => quantize({ component, model, scope, graph: scope.graph }, stats),
        skip,
      ),
    );
    after += constantBytes(model);
  }
  for (const s of stats.skippedNodes.slice(0, 20))
    logger.debug(`skipped ${s.node} (${s.op}): ${s.reason}`);
  for (const w of stats.warnings) logger.warn(w);
  for (const [reason, n] of coverage.notVisited)
    logger.info(`${n} graph(s) not visited: ${reason}`);
  const statistics: Record<string, number | string> = {
    ...stats.toStatistics(before, after),
    ...coverage.toStatistics(),
  };
  // "nothing quantized" must say why; with no candidate at all, that is the reason
  if (candidates !== undefined) statistics["candidate-nodes"] = candidates;
  statistics["function-calls-inlined"] = inlinedCalls;
  return { stats, statistics };
}

/**
 * Function bodies hold no initializers, where quantized weights are stored. Functions whose body
 * holds candidates are inlined first (`quantizeComponents`), so this leaves only bodies with
 * nothing to quantize, or ones the inliner refused (named with their reason).
 */
export const FUNCTION_BODIES_SKIPPED: ScopeFilter = (scope) =>
  scope.kind === "function"
    ? "function body (it holds no initializers for quantized weights, and nothing to quantize)"
    : undefined;
