import { constantNumbers, constantOf, type Node, staticRank, type Value } from "@lathe/core";
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
  /** Taken from a packed QKV projection: the [b, s, 3, n, h] tensor and which of q, k, v. */
  readonly packed?: PackedTake;
  /** nn.MultiheadAttention's layout: the [s, b, n·h] projection behind a [b·n, s, h] operand. */
  readonly seqFirst?: Value;
}

export interface PackedTake {
  readonly qkv: Value;
  readonly index: number;
  readonly heads: number;
}

/** Analyses a [batch, heads, seq, head] operand. */
export function bnshOperand(value: Value): HeadsOperand {
  let current = unmergedHeads(value) ?? value;
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
  const seqFirst = seqFirstHeads(current);
  if (seqFirst) return { ...seqFirst, past, present, groups };
  const split = splitHeads(current);
  const packed = split ? undefined : packedTake(current);
  return {
    bnsh: current,
    bsd: split?.bsd,
    heads: split?.heads ?? packed?.heads ?? headsThrough(current),
    past,
    present,
    groups,
    packed,
  };
}

/**
 * torch's `multi_head_attention_forward`: `q.view(s, b·n, h).transpose(0, 1)`, a [b·n, s, h]
 * operand whose bytes are the [s, b, n·h] projection. Heads = n·h / h from the inferred dims.
 */
function seqFirstHeads(
  value: Value,
): Omit<HeadsOperand, "past" | "present" | "groups"> | undefined {
  const reshape = hasPerm(value, [1, 0, 2])
    ? producedBy(value.producer()!.inputs[0], "Reshape")
    : undefined;
  return reshape?.inputs[0] ? seqFirstFrom(value, reshape.inputs[0], reshape.output) : undefined;
}

/**
 * An operand read before its transpose to [b·n, s, h]: the key's `Transpose[1, 2, 0]` of the
 * [s, b·n, h] view, or any of q, k, v whose transposes ONNX Runtime folded into a FusedMatMul's
 * transBatchA/transBatchB. `bnsh` is the view itself; the fused op reads the projection.
 */
export function seqFirstView(value: Value): HeadsOperand | undefined {
  const reshape = producedBy(value, "Reshape");
  if (!reshape?.inputs[0]) return undefined;
  const operand = seqFirstFrom(value, reshape.inputs[0], value);
  return operand && { ...operand, past: undefined, present: undefined, groups: 1 };
}

function seqFirstFrom(
  value: Value,
  projection: Value,
  view: Value,
): Omit<HeadsOperand, "past" | "present" | "groups"> | undefined {
  const width = staticDim(projection, 2);
  const head = staticDim(view, 2);
  if (staticRank(projection) !== 3 || staticRank(view) !== 3) return undefined;
  if (!width || !head || width % head !== 0) return undefined;
  return { bnsh: value, bsd: undefined, heads: width / head, seqFirst: projection };
}

/** A dim known as a number from the value's (inferred) type. */
function staticDim(value: Value, axis: number): number | undefined {
  const type = value.type;
  const dim = type?.kind === "tensor" ? type.shape?.dims[axis] : undefined;
  return typeof dim === "number" ? dim : undefined;
}

/**
 * One of q, k, v from a packed projection, as ViT-style code writes it:
 * `qkv = proj(x).reshape(b, s, 3, n, h).permute(2, 0, 3, 1, 4)`, then `qkv[i]` (Gather),
 * `qkv.unbind(0)` (Split + Squeeze) or `qkv[i:i+1].squeeze(0)` (Slice + Squeeze). The heads come
 * from the reshape's shape, with whatever Concat/Cast/Unsqueeze the exporter built it from.
 * ONNX Runtime's transpose optimizer moves the permutation below the take: then q and v are
 * `Transpose[0,2,1,3](qkv5d[:, :, i])` or `Squeeze(Transpose[2,0,3,1,4](Split(qkv5d, axis 2)[i]), 0)`.
 */
export function packedTake(value: Value): PackedTake | undefined {
  const taken = takenIndex(value, 0);
  if (taken && hasPerm(taken.from, [2, 0, 3, 1, 4]))
    return packedPart(taken.from.producer()!.inputs[0], taken.index);
  if (hasPerm(value, [0, 2, 1, 3])) {
    const part = takenIndex(value.producer()!.inputs[0]!, 2);
    if (part) return packedPart(part.from, part.index);
  }
  const squeeze = producedBy(value, "Squeeze");
  const permuted = squeeze?.inputs[0];
  if (squeeze && sameAxes(squeezeAxes(squeeze), [0]) && hasPerm(permuted, [2, 0, 3, 1, 4])) {
    const part = oneWidePart(permuted!.producer()!.inputs[0]!, 2);
    if (part) return packedPart(part.from, part.index);
  }
  return undefined;
}

/** A key taken as [b, s, n, h] from the packed [b, s, 3, n, h] projection (ORT's form). */
export function packedKeyBsnh(value: Value): PackedTake | undefined {
  const part = takenIndex(value, 2);
  return part && packedPart(part.from, part.index);
}

/** Part `index` of `Reshape(x, [b, s, 3, n, h])`, with n static. */
function packedPart(value: Value | undefined, index: number): PackedTake | undefined {
  const reshape = producedBy(value, "Reshape");
  if (!reshape?.inputs[0] || staticElement(reshape.inputs[1], 2) !== 3) return undefined;
  const heads = staticElement(reshape.inputs[1], 3);
  if (heads === undefined || staticElement(reshape.inputs[1], 4) === undefined) return undefined;
  return { qkv: reshape.output, index, heads };
}

/** `value` = element i of `axis` of some tensor: Gather, or Squeeze of a one-wide part. */
function takenIndex(value: Value, axis: number): { from: Value; index: number } | undefined {
  const node = value.producer();
  if (node?.domain !== "") return undefined;
  if (node.opType === "Gather") {
    const index = constantOf(node.inputs[1]);
    if (node.getInt("axis", 0) !== axis || index?.dims.length !== 0) return undefined;
    return { from: node.inputs[0]!, index: Number(index.toArray()[0]) };
  }
  if (node.opType !== "Squeeze" || !sameAxes(squeezeAxes(node), [axis])) return undefined;
  return oneWidePart(node.inputs[0]!, axis);
}

function squeezeAxes(node: Node): number[] | undefined {
  return node.attributes.has("axes") ? node.getInts("axes", []) : constantNumbers(node.inputs[1]);
}

function sameAxes(a: number[] | undefined, b: number[]): boolean {
  return a?.length === b.length && a.every((x, i) => x === b[i]);
}

/** Part i, one wide on `axis`, of three: a Split into ones, or a Slice [i, i + 1). */
function oneWidePart(value: Value, axis: number): { from: Value; index: number } | undefined {
  const split = producedBy(value, "Split");
  if (split?.getInt("axis", 0) === axis && split.outputs.length === 3) {
    const sizes = split.attributes.has("split")
      ? split.getInts("split", [])
      : split.inputs[1]
        ? constantNumbers(split.inputs[1])
        : [1, 1, 1];
    if (sizes?.every((n) => n === 1)) return { from: split.inputs[0]!, index: value.outputIndex };
  }
  const slice = producedBy(value, "Slice");
  if (slice && slice.inputs.length >= 4) {
    const [start, end, sliceAxes] = [1, 2, 3].map((i) => constantNumbers(slice.inputs[i]));
    const steps = slice.inputs[4] ? constantNumbers(slice.inputs[4]) : [1];
    if (
      sliceAxes?.[0] === axis &&
      start?.length === 1 &&
      end?.[0] === start[0]! + 1 &&
      steps?.[0] === 1
    )
      return { from: slice.inputs[0]!, index: start[0]! };
  }
  return undefined;
}

/**
 * Analyses a key given in [batch, seq, heads, head] (before a Transpose [0, 2, 3, 1]): the
 * Reshape that split its heads, or, when ONNX Runtime's transpose optimizer moved the key's
 * transpose below the rotary embedding, the rotation of that Reshape (then the fused op reads
 * the rotated key, merged back to [b, s, n·h]).
 */
export function bsnhOperand(value: Value): HeadsOperand & { bsnh: Value } {
  const reshape = producedBy(value, "Reshape") ?? rotatedSplit(value);
  const heads = reshape ? staticElement(reshape.inputs[1], 2) : packedKeyBsnh(value)?.heads;
  return {
    bnsh: value,
    bsnh: value,
    bsd: reshape?.output === value ? reshape.inputs[0] : undefined,
    heads,
    past: undefined,
    present: undefined,
    groups: 1,
  };
}

/** The Reshape under elementwise (rotary) arithmetic: x·cos + rotate_half(x)·sin. */
function rotatedSplit(value: Value, depth = 0): Node | undefined {
  const node = value.producer();
  if (!node || depth > 6 || node.domain !== "") return undefined;
  if (node.opType === "Reshape") return depth > 0 ? node : undefined;
  if (!["Add", "Mul", "Sub", "Cast"].includes(node.opType)) return undefined;
  for (const input of node.inputs) {
    if (!input || input.isConstant) continue;
    const found = rotatedSplit(input, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/**
 * The [b, n, s, h] tensor behind a (batch·heads, seq, head) one: diffusers' `head_to_batch_dim`
 * writes `Reshape(Transpose[0,2,1,3](Reshape(x, [b, s, n, h])), [b·n, s, h])`, the same bytes.
 */
export function unmergedHeads(value: Value): Value | undefined {
  const reshape = producedBy(value, "Reshape");
  const inner = reshape?.inputs[0];
  if (!inner || staticRank(value) !== 3 || !splitHeads(inner)) return undefined;
  return inner;
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
