import {
  type KernelEvent,
  kernelEvents,
  type ProviderShare,
  providerShare,
  runEvents,
  type TraceEvent,
} from "./trace.js";

export interface NodeProfile {
  readonly node: string;
  readonly opType: string;
  readonly provider: string;
  /** Calls over the counted runs (a node in a loop runs more than once per run). */
  readonly calls: number;
  /** The median call, in microseconds: one descheduled call on a busy machine does not move it. */
  readonly medianUs: number;
  /** Time over the counted runs, estimated as median × calls, in microseconds. */
  readonly totalUs: number;
  /** Part of all nodes' time, 0..1. */
  readonly share: number;
  /** Input element types and shapes of its first call. */
  readonly inputs: KernelEvent["inputs"];
}

export interface OpProfile {
  readonly opType: string;
  /** Distinct nodes of this op type. */
  readonly nodes: number;
  readonly calls: number;
  readonly totalUs: number;
  readonly share: number;
}

export interface ProfileSummary {
  /** Runs counted (the warm-up runs left out). */
  readonly runs: number;
  /** Node time of the counted runs (sum of the nodes' estimates), in microseconds. */
  readonly kernelUs: number;
  /** Wall time of the counted runs (`model_run`), in microseconds. */
  readonly runUs: number;
  /** Most time first. */
  readonly nodes: readonly NodeProfile[];
  readonly ops: readonly OpProfile[];
  readonly providers: readonly ProviderShare[];
}

/**
 * Time by node and by op type. The first `skipRuns` runs (warm-up: allocations, first touches
 * of the weights) are left out when the trace has more runs than that. A node's time is its
 * median call times its calls, so a call the OS descheduled does not make a Squeeze look costly.
 */
export function summarizeProfile(
  events: readonly TraceEvent[],
  options: { skipRuns?: number } = {},
): ProfileSummary {
  const runs = runEvents(events).sort((a, b) => a.ts - b.ts);
  const skip = runs.length > (options.skipRuns ?? 0) ? (options.skipRuns ?? 0) : 0;
  const counted = runs.slice(skip);
  const start = counted[0]?.ts ?? Number.NEGATIVE_INFINITY;
  const kernels = kernelEvents(events).filter((k) => k.ts >= start);

  const byNode = new Map<string, { first: KernelEvent; durations: number[] }>();
  for (const k of kernels) {
    const entry = byNode.get(k.node) ?? { first: k, durations: [] };
    entry.durations.push(k.dur);
    byNode.set(k.node, entry);
  }
  const estimates = [...byNode].map(([node, { first, durations }]) => {
    const medianUs = median(durations);
    return { node, first, calls: durations.length, medianUs, totalUs: medianUs * durations.length };
  });
  const kernelUs = estimates.reduce((sum, e) => sum + e.totalUs, 0);
  const share = (us: number) => (kernelUs > 0 ? us / kernelUs : 0);

  const ops = new Map<string, { nodes: number; calls: number; total: number }>();
  for (const e of estimates) {
    const entry = ops.get(e.first.opType) ?? { nodes: 0, calls: 0, total: 0 };
    entry.nodes++;
    entry.calls += e.calls;
    entry.total += e.totalUs;
    ops.set(e.first.opType, entry);
  }
  return {
    runs: counted.length,
    kernelUs,
    runUs: counted.reduce((sum, r) => sum + r.dur, 0),
    nodes: estimates
      .map((e) => ({
        node: e.node,
        opType: e.first.opType,
        provider: e.first.provider,
        calls: e.calls,
        medianUs: e.medianUs,
        totalUs: e.totalUs,
        share: share(e.totalUs),
        inputs: e.first.inputs,
      }))
      .sort((a, b) => b.totalUs - a.totalUs),
    ops: [...ops]
      .map(([opType, e]) => ({
        opType,
        nodes: e.nodes,
        calls: e.calls,
        totalUs: e.total,
        share: share(e.total),
      }))
      .sort((a, b) => b.totalUs - a.totalUs),
    providers: providerShare(kernels.map(asEvent)),
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function asEvent(k: KernelEvent): TraceEvent {
  return {
    cat: "Node",
    name: `${k.node}_kernel_time`,
    ts: k.ts,
    dur: k.dur,
    args: { op_name: k.opType, provider: k.provider },
  };
}

export interface PassSuggestion {
  /** The pass to try; absent when no Lathe pass addresses the pattern yet (`advice` says what would). */
  readonly pass?: string;
  /** What in the profile points at it. */
  readonly reason: string;
  /** Part of kernel time the pattern takes, 0..1. */
  readonly share: number;
  /** A recipe `passes:` entry to try (with a pass). */
  readonly snippet?: string;
  /** What would help, including what Lathe cannot do yet. */
  readonly advice?: string;
}

const FUSED_ATTENTION = new Set([
  "Attention",
  "MultiHeadAttention",
  "GroupQueryAttention",
  "PackedAttention",
  "PackedMultiHeadAttention",
]);
const DENSE = new Set(["MatMul", "Gemm", "FusedMatMul", "FusedGemm"]);
const QUANTIZED = /Integer|NBits|QLinear|DynamicQuantize|QAttention|MatMulBnb4/;
/** Below these shares a pass would not move the total enough to be worth the try. */
const ATTENTION_THRESHOLD = 0.1;
const DENSE_THRESHOLD = 0.3;
const ELEMENTWISE_THRESHOLD = 0.25;
const LAYOUT_THRESHOLD = 0.15;
const CONV_THRESHOLD = 0.3;
/** Activation arithmetic ORT runs as one kernel per op when no fusion matched it. */
const ELEMENTWISE = new Set([
  "Add",
  "Sub",
  "Mul",
  "Div",
  "Clip",
  "Relu",
  "LeakyRelu",
  "Sigmoid",
  "HardSigmoid",
  "Tanh",
  "Erf",
  "Pow",
  "Sqrt",
  "Neg",
  "Exp",
  "Min",
  "Max",
  "Where",
]);
/** Ops that only move or reshape data. */
const LAYOUT = new Set([
  "Transpose",
  "Reshape",
  "Squeeze",
  "Unsqueeze",
  "Flatten",
  "Concat",
  "Split",
  "Slice",
  "Expand",
  "Tile",
  "Cast",
  "Identity",
]);

/**
 * Passes that address what the time goes to: unfused attention (Softmax between batched
 * MatMuls of rank 4, no fused attention op) → the attention rewrite; float MatMul/Gemm taking
 * a large share → weight-only or dynamic int8 quantization.
 */
export function suggestPasses(summary: ProfileSummary): PassSuggestion[] {
  const time = (pick: (n: NodeProfile) => boolean) =>
    summary.nodes.filter(pick).reduce((sum, n) => sum + n.share, 0);
  const suggestions: PassSuggestion[] = [];

  const fused = summary.ops.some((o) => FUSED_ATTENTION.has(o.opType));
  const batched = (n: NodeProfile) =>
    DENSE.has(n.opType) &&
    n.inputs.length >= 2 &&
    n.inputs.slice(0, 2).every((i) => i.shape.length === 4);
  const attention = time((n) => n.opType === "Softmax" || batched(n));
  const softmax = summary.ops.some((o) => o.opType === "Softmax");
  if (!fused && softmax && attention >= ATTENTION_THRESHOLD) {
    suggestions.push({
      pass: "flash-attention/rewrite",
      reason: `unfused attention (Softmax and batched MatMuls of rank 4) takes ${percent(attention)} of node time`,
      share: attention,
      snippet: [
        "passes:",
        "  attention:",
        "    use: flash-attention/rewrite",
        "    options:",
        "      target: cpu",
      ].join("\n"),
    });
  }

  const dense = time(
    (n) => DENSE.has(n.opType) && !batched(n) && n.inputs.some((i) => i.type === "float"),
  );
  const quantized = summary.ops.some((o) => QUANTIZED.test(o.opType));
  if (!quantized && dense >= DENSE_THRESHOLD) {
    const reason = `float MatMul/Gemm with weights take ${percent(dense)} of node time`;
    suggestions.push(
      {
        pass: "quantize/dynamic-int8",
        reason,
        share: dense,
        snippet: [
          "passes:",
          "  int8:",
          "    use: quantize/dynamic-int8",
          "    options:",
          "      perChannel: true",
        ].join("\n"),
      },
      {
        pass: "quantize/weight-only",
        reason,
        share: dense,
        snippet: [
          "passes:",
          "  int4:",
          "    use: quantize/weight-only",
          "    options:",
          "      bits: 4",
          "      blockSize: 32",
        ].join("\n"),
      },
    );
  }
  suggestions.push(...computeBoundSuggestions(summary, time));
  return suggestions.sort((a, b) => b.share - a.share);
}

/**
 * When matrix products are not where the time goes: unfused elementwise activation chains
 * (hard-swish written as Mul/Add/Div/Clip), layout changes, float convolutions. Only the last
 * has a Lathe pass; the others say what would help.
 */
function computeBoundSuggestions(
  summary: ProfileSummary,
  time: (pick: (n: NodeProfile) => boolean) => number,
): PassSuggestion[] {
  const out: PassSuggestion[] = [];
  const elementwise = time((n) => ELEMENTWISE.has(n.opType));
  if (elementwise >= ELEMENTWISE_THRESHOLD) {
    out.push({
      reason: `unfused elementwise ops (${topOps(summary, ELEMENTWISE)}) take ${percent(elementwise)} of node time: each runs as its own kernel over the whole tensor`,
      share: elementwise,
      advice:
        "fusing each activation chain into one op would help: hard-swish as HardSwish (opset 14), x·sigmoid(x) as com.microsoft QuickGelu, GELU as Gelu/FastGelu (ORT fuses those patterns itself when the graph matches them exactly); Lathe has no elementwise-fusion pass yet, so re-export with those ops or a newer opset",
    });
  }
  const layout = time((n) => LAYOUT.has(n.opType));
  if (layout >= LAYOUT_THRESHOLD) {
    out.push({
      reason: `layout ops (${topOps(summary, LAYOUT)}) take ${percent(layout)} of node time: data moved, nothing computed`,
      share: layout,
      advice:
        "removing transposes around convolutions and matrix products would help (ORT's transpose optimizer does part of it at its highest optimization level); Lathe has no layout pass yet",
    });
  }
  const conv = time((n) => n.opType === "Conv" && n.inputs.some((i) => i.type === "float"));
  const quantizedConv = summary.ops.some((o) => o.opType === "QLinearConv");
  if (!quantizedConv && conv >= CONV_THRESHOLD) {
    out.push({
      pass: "quantize/static-int8",
      reason: `float Conv takes ${percent(conv)} of node time`,
      share: conv,
      advice:
        "int8 QLinearConv (calibrate on real inputs: a data set named in the recipe); fp16 only helps on a GPU",
      snippet: [
        "passes:",
        "  int8:",
        "    use: quantize/static-int8",
        "    options:",
        "      calibration: calib   # a data set under data:",
      ].join("\n"),
    });
  }
  return out;
}

/** The op types of `set` that take the most time, up to four, by name. */
function topOps(summary: ProfileSummary, set: ReadonlySet<string>): string {
  return summary.ops
    .filter((o) => set.has(o.opType))
    .slice(0, 4)
    .map((o) => o.opType)
    .join(", ");
}

function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}
