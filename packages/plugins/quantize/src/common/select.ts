import {
  constantBytes,
  createNameFilter,
  type Logger,
  type Model,
  type ModelBundle,
  type NameFilterOptions,
  type NamePattern,
  type Node,
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

  skip(node: Node, reason: string): void {
    this.skipped.set(reason, (this.skipped.get(reason) ?? 0) + 1);
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

/**
 * Runs `quantize` on each component in turn and sums the constant bytes before and after; logs
 * the first skipped nodes. Returns the stats and the statistics a quantization pass reports.
 */
export async function quantizeComponents(
  bundle: ModelBundle,
  logger: Logger,
  quantize: (name: string, model: Model, stats: QuantStats) => void | Promise<void>,
): Promise<{ stats: QuantStats; statistics: Record<string, number | string> }> {
  const stats = new QuantStats();
  let before = 0;
  let after = 0;
  for (const [name, model] of bundle.components) {
    before += constantBytes(model);
    await quantize(name, model, stats);
    after += constantBytes(model);
  }
  for (const s of stats.skippedNodes.slice(0, 20))
    logger.debug(`skipped ${s.node} (${s.op}): ${s.reason}`);
  for (const w of stats.warnings) logger.warn(w);
  return { stats, statistics: stats.toStatistics(before, after) };
}
