import type { Value } from "@lathe/core";
import { hasPerm, producedBy, staticElement } from "./shapes.js";

/**
 * How an attention operand reaches the score MatMul: the [batch, seq, heads·head] tensor it was
 * split from (when the graph has one), its heads, a KV cache it was concatenated with, and the
 * repeat_kv factor that widened it.
 */
export interface HeadsOperand {
  /** The operand in [batch, heads, seq, head] as the graph computes it. */
  readonly bnsh: Value;
  /** The [batch, seq, heads·head] tensor split into heads, when the graph has one. */
  readonly bsd: Value | undefined;
  /** Heads of the operand before any repeat_kv. */
  readonly heads: number | undefined;
  /** The cache concatenated in front (`Concat([past, new], axis=2)`) and the new part. */
  readonly past: Value | undefined;
  readonly present: Value | undefined;
  /** repeat_kv's factor (1 when absent). */
  readonly groups: number;
}

/** Analyses a [batch, heads, seq, head] operand. */
export function bnshOperand(value: Value): HeadsOperand {
  let current = value;
  let groups = 1;
  const repeat = repeatKv(current);
  if (repeat) {
    groups = repeat.groups;
    current = repeat.source;
  }
  let past: Value | undefined;
  let present: Value | undefined;
  const concat = producedBy(current, "Concat");
  if (concat && concat.inputs.length === 2 && [2, -2].includes(concat.getInt("axis", 0))) {
    past = concat.inputs[0];
    present = current;
    current = concat.inputs[1]!;
  }
  const split = splitHeads(current);
  return {
    bnsh: current,
    bsd: split?.bsd,
    heads: split?.heads ?? headsThrough(current),
    past,
    present,
    groups,
  };
}

/** Analyses a key given in [batch, seq, heads, head] (before a Transpose [0, 2, 3, 1]). */
export function bsnhOperand(value: Value): HeadsOperand & { bsnh: Value } {
  const reshape = producedBy(value, "Reshape");
  const heads = reshape ? staticElement(reshape.inputs[1], 2) : undefined;
  return {
    bnsh: value,
    bsnh: value,
    bsd: reshape?.inputs[0],
    heads,
    past: undefined,
    present: undefined,
    groups: 1,
  };
}

/** `Transpose[0,2,1,3](Reshape(x, [b, s, n, h]))`: x and n. */
function splitHeads(value: Value): { bsd: Value; heads: number | undefined } | undefined {
  if (!hasPerm(value, [0, 2, 1, 3])) return undefined;
  const reshape = producedBy(value.producer()!.inputs[0], "Reshape");
  if (!reshape?.inputs[0]) return undefined;
  return { bsd: reshape.inputs[0], heads: staticElement(reshape.inputs[1], 2) };
}

/** Heads of a tensor computed elementwise from split heads (rotary: x·cos + rotate(x)·sin). */
function headsThrough(value: Value, depth = 0): number | undefined {
  const split = splitHeads(value);
  if (split) return split.heads;
  const node = value.producer();
  if (!node || depth > 6 || !["Add", "Mul", "Sub", "Cast"].includes(node.opType)) return undefined;
  for (const input of node.inputs) {
    if (!input || input.isConstant) continue;
    const heads = headsThrough(input, depth + 1);
    if (heads !== undefined) return heads;
  }
  return undefined;
}

/** transformers' `repeat_kv`: Reshape(Expand(Unsqueeze(x, 2), [b, kv, g, s, h]), [b, kv·g, s, h]). */
function repeatKv(value: Value): { source: Value; groups: number } | undefined {
  const reshape = producedBy(value, "Reshape");
  const expand = producedBy(reshape?.inputs[0], "Expand");
  const unsqueeze = producedBy(expand?.inputs[0], "Unsqueeze");
  if (!reshape || !expand || !unsqueeze?.inputs[0]) return undefined;
  const groups = staticElement(expand.inputs[1], 2);
  if (groups === undefined) return undefined;
  return { source: unsqueeze.inputs[0], groups };
}
