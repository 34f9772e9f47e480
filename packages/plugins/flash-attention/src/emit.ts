import { type Builder, DataType, staticRank, type Value } from "@lathe/core";
import type { AttentionBlock } from "./analyze.js";
import { bnshOperand, type HeadsOperand } from "./heads.js";
import { halfCache } from "./rotary.js";
import { hasPerm } from "./shapes.js";

const MICROSOFT = "com.microsoft";

/** Replacements for the matched block: the context (or its merge transpose) and the caches. */
export function emitAttention(
  b: Builder,
  block: AttentionBlock,
  context: Value,
  query: Value,
): Map<Value, Value> {
  const replacements = new Map<Value, Value>();
  const { k, v } = block;
  if (block.fusedOp === "Attention") {
    const kBnsh = k.bsnh ? b.Transpose(k.bsnh, { perm: [0, 2, 1, 3] }) : k.bnsh;
    const attributes = { is_causal: block.causal ? 1 : 0, scale: block.scale };
    const node = b.node(
      "Attention",
      [
        query,
        kBnsh,
        v.bnsh,
        block.bias ? expandToQueries(b, block.bias, query) : undefined,
        k.past,
        v.past,
      ],
      attributes,
      { outputs: k.past ? 3 : 1 },
    );
    replacements.set(context, node.outputs[0]!);
    if (k.present && v.present) {
      replacements.set(k.present, node.outputs[1]!);
      replacements.set(v.present, node.outputs[2]!);
    }
    return replacements;
  }

  const rotary = block.rotary;
  const q3 = rotary ? bnshOperand(rotary.q.input).bsd! : toBsd(b, block.q, query);
  const k3 = rotary
    ? bnshOperand(rotary.k.input).bsd!
    : k.bsnh
      ? (k.bsd ?? b.Reshape(k.bsnh, b.int64s([0, 0, -1])))
      : toBsd(b, k, k.bnsh);
  const v3 = toBsd(b, v, v.bnsh);
  // the query length from the [b, s, n·h] query, so a rotation the fused op now does becomes dead
  const bias = block.bias
    ? expandToQueries(b, unmergeBias(b, block.bias, block.heads), q3, 1)
    : undefined;
  let out: Value;
  if (block.fusedOp === "MultiHeadAttention") {
    // a causal step over a cache (analyze.ts: cachedStepAsMultiHead): MultiHeadAttention's
    // unidirectional mask counts from the bottom-right corner (query i sees keys up to P + i)
    const node = b.node(
      "MultiHeadAttention",
      [q3, k3, v3, undefined, undefined, bias, k.past, v.past],
      {
        num_heads: block.heads,
        scale: block.scale,
        unidirectional: block.causal ? 1 : undefined,
      },
      { domain: MICROSOFT, outputs: k.past ? 3 : 1 },
    );
    out = node.outputs[0]!;
    if (k.present && v.present) {
      replacements.set(k.present, node.outputs[1]!);
      replacements.set(v.present, node.outputs[2]!);
    }
  } else {
    // GQA takes lengths instead of a mask: every row sees the whole cache (seqlens_k = T − 1),
    // causality is its own, and padding comes in as attention_bias.
    // the total length from the parts: the concatenated cache itself becomes present_key
    const lengthOf = (x: Value, axis: number) =>
      b.Gather(b.Shape(x), b.constant([axis], [], DataType.INT64), { axis: 0 });
    const newLength = lengthOf(rotary ? rotary.k.input : k.bnsh, k.bsnh ? 1 : 2);
    const total = k.past ? b.Add(lengthOf(k.past, 2), newLength) : newLength;
    // Gather, not Slice: Slice takes its bounds as inputs only from opset 10
    const batch = b.Gather(b.Shape(q3), b.int64s([0]), { axis: 0 });
    const seqlens = b.Cast(b.Expand(b.Sub(total, b.constant([1], [], DataType.INT64)), batch), {
      to: DataType.INT32,
    });
    const totalLength = b.Cast(total, { to: DataType.INT32 });
    const node = b.node(
      "GroupQueryAttention",
      [
        q3,
        k3,
        v3,
        k.past,
        v.past,
        seqlens,
        totalLength,
        rotary && cacheValue(b, rotary.q.cos, "cos"),
        rotary && cacheValue(b, rotary.q.sin, "sin"),
        rotary?.q.positionIds,
        bias,
      ],
      {
        num_heads: block.heads,
        kv_num_heads: block.kvHeads,
        scale: block.scale,
        do_rotary: rotary ? 1 : undefined,
        rotary_interleaved: rotary ? 0 : undefined,
      },
      { domain: MICROSOFT, outputs: 3 },
    );
    out = node.outputs[0]!;
    if (k.present && v.present) {
      replacements.set(k.present, node.outputs[1]!);
      replacements.set(v.present, node.outputs[2]!);
    }
  }
  // back to the graph's layout: the merge Transpose [0, 2, 1, 3] becomes a Reshape of the output
  const heads = b.int64s([0, 0, block.heads, -1]);
  const merge = mergeTranspose(context);
  if (merge) {
    replacements.set(merge, b.Reshape(out, heads));
  } else if (staticRank(context) === 3) {
    // (batch·heads, seq, head) as the graph had it
    const bnsh = b.Transpose(b.Reshape(out, heads), { perm: [0, 2, 1, 3] });
    const seqAndHead = b.Gather(b.Shape(bnsh), b.int64s([2, 3]), { axis: 0 });
    const shape = b.Concat(b.int64s([-1]), seqAndHead, { axis: 0 });
    replacements.set(context, b.Reshape(bnsh, shape));
  } else {
    replacements.set(context, b.Transpose(b.Reshape(out, heads), { perm: [0, 2, 1, 3] }));
  }
  return replacements;
}

/**
 * The Transpose [0, 2, 1, 3] that merges the context's heads back, read only by the block:
 * directly, or after diffusers' `batch_to_head_dim` Reshape from (batch·heads, seq, head).
 */
function mergeTranspose(context: Value): Value | undefined {
  const only = (value: Value) => (value.uses().length === 1 ? value.uses()[0]!.node : undefined);
  let node = only(context);
  if (node?.opType === "Reshape" && staticRank(context) === 3 && staticRank(node.output) === 4)
    node = only(node.output);
  return node && hasPerm(node.output, [0, 2, 1, 3]) ? node.output : undefined;
}

/** [b, n, s, h] → [b, s, n·h]: the tensor it was split from, or a Transpose and Reshape. */
function toBsd(b: Builder, operand: HeadsOperand, bnsh: Value): Value {
  if (operand.bsd && operand.bnsh === bnsh) return operand.bsd;
  if (operand.seqFirst && operand.bnsh === bnsh)
    return b.Transpose(operand.seqFirst, { perm: [1, 0, 2] });
  if (operand.packed && operand.bnsh === bnsh) {
    // [b, s, 3, n, h] → its q, k or v part [b, s, 1, n, h] → [b, s, n·h]; no transposes
    const { qkv, index } = operand.packed;
    return b.Reshape(b.Gather(qkv, b.int64s([index]), { axis: 2 }), b.int64s([0, 0, -1]));
  }
  return b.Reshape(b.Transpose(bnsh, { perm: [0, 2, 1, 3] }), b.int64s([0, 0, -1]));
}

/** [B, 1, 1|S, T] → [B, 1, S, T]: the contrib ops want the query axis spelled out. */
function expandToQueries(b: Builder, bias: Value, query: Value, axis = 2): Value {
  const queries = b.Gather(b.Shape(query), b.int64s([axis]), { axis: 0 });
  return b.Expand(bias, b.Concat(b.int64s([1, 1]), queries, b.int64s([1]), { axis: 0 }));
}

/** A (batch·heads, 1|S, T) mask as [batch, heads, 1|S, T] (the same bytes). */
function unmergeBias(b: Builder, bias: Value, heads: number): Value {
  if (staticRank(bias) !== 3) return bias;
  const rows = b.Gather(b.Shape(bias), b.int64s([1, 2]), { axis: 0 });
  return b.Reshape(bias, b.Concat(b.int64s([-1, heads]), rows, { axis: 0 }));
}

/** GQA's [max_positions, head/2] cache, one initializer per source cache for all layers. */
function cacheValue(b: Builder, cache: import("@lathe/core").Tensor, kind: "cos" | "sin"): Value {
  let cached = halfCaches.get(cache);
  if (!cached || b.graph.initializers.get(cached.name) !== cached) {
    let name = `flash_attention_${kind}_cache`;
    for (let i = 1; b.graph.initializers.has(name); i++)
      name = `flash_attention_${kind}_cache_${i}`;
    cached = b.graph.addInitializer(halfCache(cache, name), name);
    halfCaches.set(cache, cached);
  }
  return cached;
}

const halfCaches = new WeakMap<object, Value>();
