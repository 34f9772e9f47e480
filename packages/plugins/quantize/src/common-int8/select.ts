import type { Node } from "@lathe/core";

/** Which nodes a quantization pass may touch, from its options. */
export interface NodeFilter {
  readonly opTypes: readonly string[];
  /** Regular expressions on node names; when non-empty, a node must match one. */
  readonly include: readonly string[];
  /** Regular expressions on node names; a matching node is left alone. */
  readonly exclude: readonly string[];
}

/** A predicate over nodes; returns why a node is not selected, or undefined when it is. */
export function createNodeFilter(filter: NodeFilter): (node: Node) => string | undefined {
  const include = filter.include.map((p) => new RegExp(p));
  const exclude = filter.exclude.map((p) => new RegExp(p));
  const ops = new Set(filter.opTypes);
  return (node) => {
    if (node.domain !== "" || !ops.has(node.opType)) return "op type not selected";
    if (include.length > 0 && !include.some((r) => r.test(node.name)))
      return "name matches no include pattern";
    if (exclude.some((r) => r.test(node.name))) return "name matches an exclude pattern";
    return undefined;
  };
}

/** Counts of quantized and skipped nodes with their reasons, as pass statistics. */
export class QuantStats {
  readonly quantized = new Map<string, number>();
  readonly skipped = new Map<string, number>();
  readonly skippedNodes: { node: string; op: string; reason: string }[] = [];

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
    return stats;
  }
}
