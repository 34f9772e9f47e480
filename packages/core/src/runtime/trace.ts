import { readFileSync } from "node:fs";
import { errors } from "../diagnostics.js";

/** One event of ONNX Runtime's profile (Chrome trace format): durations in microseconds. */
export interface TraceEvent {
  readonly cat: string;
  readonly name: string;
  readonly ts: number;
  readonly dur: number;
  readonly args?: Readonly<Record<string, unknown>>;
}

/** A node's kernel ran: what op, on which provider, for how long, on what shapes. */
export interface KernelEvent {
  /** The node's name (ORT names unnamed nodes itself). */
  readonly node: string;
  readonly opType: string;
  readonly provider: string;
  readonly ts: number;
  readonly dur: number;
  /** Input element types and shapes, e.g. [{ float: [1, 4, 8, 16] }]. */
  readonly inputs: readonly { readonly type: string; readonly shape: readonly number[] }[];
}

export function readTrace(file: string): TraceEvent[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw errors.profileTraceInvalid(file, (error as Error).message);
  }
  return parseTrace(parsed, file);
}

export function parseTrace(parsed: unknown, file = "<trace>"): TraceEvent[] {
  if (!Array.isArray(parsed))
    throw errors.profileTraceInvalid(file, "expected a JSON array of events");
  return parsed.map((event, i) => {
    const e = event as Partial<TraceEvent>;
    if (
      typeof e !== "object" ||
      e === null ||
      typeof e.name !== "string" ||
      typeof e.dur !== "number"
    ) {
      throw errors.profileTraceInvalid(file, `event ${i} has no name or duration`);
    }
    return {
      cat: String(e.cat ?? ""),
      name: e.name,
      ts: Number(e.ts ?? 0),
      dur: e.dur,
      ...(e.args ? { args: e.args } : {}),
    };
  });
}

/** The node kernel events: `<node>_kernel_time` of category Node (fences and session events left out). */
export function kernelEvents(events: readonly TraceEvent[]): KernelEvent[] {
  const kernels: KernelEvent[] = [];
  for (const event of events) {
    if (event.cat !== "Node" || !event.name.endsWith("_kernel_time")) continue;
    const args = event.args ?? {};
    kernels.push({
      node: event.name.slice(0, -"_kernel_time".length),
      opType: String(args.op_name ?? "?"),
      provider: String(args.provider ?? "unknown"),
      ts: event.ts,
      dur: event.dur,
      inputs: shapesOf(args.input_type_shape),
    });
  }
  return kernels;
}

function shapesOf(value: unknown): KernelEvent["inputs"] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((entry) =>
    Object.entries(entry as Record<string, unknown>).map(([type, shape]) => ({
      type,
      shape: Array.isArray(shape) ? shape.map(Number) : [],
    })),
  );
}

/** The `model_run` events: one per `session.run`. */
export function runEvents(events: readonly TraceEvent[]): TraceEvent[] {
  return events.filter((e) => e.name === "model_run");
}

export interface ProviderShare {
  /** ORT's name, e.g. CPUExecutionProvider. */
  readonly provider: string;
  /** Distinct nodes that ran on it. */
  readonly nodes: number;
  /** Its part of the kernel time, 0..1. */
  readonly timeShare: number;
}

/** Which providers ran the nodes (the trace's `args.provider`), most nodes first. */
export function providerShare(trace: string | readonly TraceEvent[]): ProviderShare[] {
  const kernels = kernelEvents(typeof trace === "string" ? readTrace(trace) : trace);
  const total = kernels.reduce((sum, k) => sum + k.dur, 0);
  const byProvider = new Map<string, { nodes: Set<string>; time: number }>();
  for (const k of kernels) {
    const entry = byProvider.get(k.provider) ?? { nodes: new Set(), time: 0 };
    entry.nodes.add(k.node);
    entry.time += k.dur;
    byProvider.set(k.provider, entry);
  }
  return [...byProvider]
    .map(([provider, { nodes, time }]) => ({
      provider,
      nodes: nodes.size,
      timeShare: total > 0 ? time / total : 0,
    }))
    .sort((a, b) => b.nodes - a.nodes);
}

/** "all 57 nodes ran on CPUExecutionProvider", or the split when several providers ran some. */
export function describeProviderShare(shares: readonly ProviderShare[]): string {
  if (shares.length === 0) return "the trace has no node events";
  const total = shares.reduce((sum, s) => sum + s.nodes, 0);
  if (shares.length === 1) return `all ${total} nodes ran on ${shares[0]!.provider}`;
  return shares
    .map(
      (s) =>
        `${s.nodes} of ${total} nodes on ${s.provider} (${(s.timeShare * 100).toFixed(1)}% of kernel time)`,
    )
    .join(", ");
}
