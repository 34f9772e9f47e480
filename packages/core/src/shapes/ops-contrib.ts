import { DataType } from "../ir/dtype.js";
import type { Dim } from "../ir/types.js";
import { fusedMatMulAttributes, fusedMatMulPermutation } from "../rewrite/fused-matmul.js";
import {
  axis,
  FLOAT,
  type InferContext,
  type Inferred,
  type OpInference,
  tensor,
} from "./context.js";
import { addDims, broadcastShapes, divDims, mulDims } from "./dims.js";
import { sameAs } from "./ops-elementwise.js";
import { matmulDims, nnOps } from "./ops-nn.js";

/**
 * The `com.microsoft` ops Lathe emits or finds in exports (ORT's contrib operators), with the
 * shapes ORT's kernels give them (onnxruntime/core/graph/contrib_ops/*_defs.cc).
 */

function lastDimTo(ctx: InferContext, i: number, last: Dim, elemType?: DataType): Inferred {
  const x = ctx.input(i);
  const type = elemType ?? x?.elemType;
  if (type === undefined) return undefined;
  if (!x?.dims) return tensor(type);
  return tensor(type, [...x.dims.slice(0, -1), last]);
}

/** Dims of a [B, S, D] query (or [B, N, S, H] when given 4-D), as batch, seq and hidden. */
function bsd(dims: readonly Dim[] | undefined): [Dim, Dim, Dim] | undefined {
  if (!dims) return undefined;
  if (dims.length === 3) return [dims[0]!, dims[1]!, dims[2]!];
  if (dims.length === 4) return [dims[0]!, dims[2]!, mulDims(dims[1]!, dims[3]!)];
  if (dims.length === 5) return [dims[0]!, dims[1]!, mulDims(dims[2]!, dims[4]!)]; // packed QKV
  return undefined;
}

function multiHeadAttention(ctx: InferContext): Inferred[] {
  const q = ctx.input(0);
  const out: Inferred[] = new Array(ctx.node.outputs.length).fill(undefined);
  if (!q) return out;
  const heads = ctx.node.getInt("num_heads");
  const query = bsd(q.dims);
  if (!query) return [tensor(q.elemType)];
  const [b, s, d] = query;
  const v = ctx.dims(2);
  const vHidden = v?.length === 3 ? v[2]! : v?.length === 4 ? mulDims(v[1]!, v[3]!) : d;
  out[0] = tensor(q.elemType, [b, s, vHidden]);
  const k = ctx.dims(1);
  const kvSeq = !ctx.has(1) ? s : k?.length === 3 ? k[1]! : k?.length === 4 ? k[2]! : null;
  const past = ctx.dims(6)?.[2];
  const total = past === undefined ? kvSeq : addDims(past, kvSeq);
  const headSize = divDims(d, heads);
  if (out.length > 1) out[1] = tensor(q.elemType, [b, heads, total, headSize]);
  if (out.length > 2) out[2] = tensor(q.elemType, [b, heads, total, divDims(vHidden, heads)]);
  return out;
}

function groupQueryAttention(ctx: InferContext): Inferred[] {
  const q = ctx.input(0);
  const out: Inferred[] = new Array(ctx.node.outputs.length).fill(undefined);
  if (!q) return out;
  if (q.dims?.length !== 3) return [tensor(q.elemType)];
  const heads = ctx.node.getInt("num_heads");
  const kvHeads = ctx.node.getInt("kv_num_heads");
  const [b, s, d] = q.dims as unknown as [Dim, Dim, Dim];
  // without key and value the query holds Q, K and V packed: (heads + 2·kv_heads)·head_size
  const headSize = ctx.has(1) ? divDims(d, heads) : divDims(d, heads + 2 * kvHeads);
  out[0] = tensor(q.elemType, [b, s, mulDims(headSize, heads)]);
  const past = ctx.dims(3);
  // present = past + new tokens (ORT's default; with a shared buffer it is the past's length)
  const total = past?.length === 4 ? addDims(past[2]!, s) : ctx.has(3) ? null : s;
  const present = tensor(q.elemType, [b, kvHeads, total, headSize]);
  if (out.length > 1) out[1] = present;
  if (out.length > 2) out[2] = present;
  return out;
}

function attention(ctx: InferContext): Inferred[] {
  const x = ctx.input(0);
  const out: Inferred[] = new Array(ctx.node.outputs.length).fill(undefined);
  if (!x) return out;
  if (x.dims?.length !== 3) return [tensor(x.elemType)];
  const heads = ctx.node.getInt("num_heads");
  const [b, s] = x.dims as unknown as [Dim, Dim];
  const sizes = ctx.node.getInts("qkv_hidden_sizes", []);
  const w = ctx.dims(1);
  const vHidden = sizes.length === 3 ? sizes[2]! : w ? divDims(w[1]!, 3) : null;
  const qkHidden = sizes.length === 3 ? sizes[0]! : vHidden;
  out[0] = tensor(x.elemType, [b, s, vHidden]);
  if (out.length > 1) {
    const past = ctx.dims(4);
    const total = past?.length === 5 ? addDims(past[3]!, s) : s;
    out[1] = tensor(x.elemType, [2, b, heads, total, divDims(qkHidden, heads)]);
  }
  return out;
}

function fusedMatMul(ctx: InferContext): Inferred[] {
  const type = ctx.input(0)?.elemType;
  const a = ctx.dims(0);
  const b = ctx.dims(1);
  if (type === undefined) return [undefined];
  if (!a || !b || a.length < 2 || b.length < 2) return [tensor(type)];
  const { transA, transB, transBatchA, transBatchB } = fusedMatMulAttributes(ctx.node);
  const permuted = (d: readonly Dim[], trans: boolean, transBatch: boolean) =>
    fusedMatMulPermutation(d.length, trans, transBatch).map((i) => d[i]!);
  return [
    tensor(type, matmulDims(permuted(a, transA, transBatchA), permuted(b, transB, transBatchB))),
  ];
}

function skipNorm(ctx: InferContext): Inferred[] {
  const x = ctx.input(0);
  const stats = x?.dims ? tensor(FLOAT, [...x.dims.slice(0, -1), 1]) : undefined;
  return [x, stats, stats, x];
}

function gatherBlockQuantized(ctx: InferContext): Inferred[] {
  const type = ctx.input(2)?.elemType;
  const data = ctx.input(0);
  const indices = ctx.dims(1);
  if (type === undefined) return [undefined];
  if (!data?.dims || !indices) return [tensor(type)];
  const a = axis(ctx.node.getInt("gather_axis", 0), data.dims.length);
  const bits = ctx.node.getInt("bits", 4);
  // uint8 data packs 8/bits values per byte along the last axis; int4/uint4 are unpacked already
  const packed = data.elemType === DataType.UINT8 ? 8 / bits : 1;
  const dims = [...data.dims];
  dims[dims.length - 1] = mulDims(dims.at(-1)!, packed);
  return [tensor(type, [...dims.slice(0, a), ...indices, ...dims.slice(a + 1)])];
}

function qlinearConcat(ctx: InferContext): Inferred[] {
  const parts: (readonly Dim[] | undefined)[] = [];
  for (let i = 2; i < ctx.inputCount; i += 3) parts.push(ctx.dims(i));
  const type = ctx.input(2)?.elemType;
  if (type === undefined) return [undefined];
  if (parts.some((p) => !p)) return [tensor(type)];
  const first = parts[0]!;
  const a = axis(ctx.node.getInt("axis"), first.length);
  const out = [...first];
  out[a] = parts.reduce<Dim>((sum, p) => addDims(sum, p![a]!), 0);
  return [tensor(type, out)];
}

function qlinearBinary(ctx: InferContext): Inferred[] {
  const type = ctx.input(0)?.elemType;
  const a = ctx.dims(0);
  const b = ctx.dims(3);
  if (type === undefined) return [undefined];
  return [a && b ? tensor(type, broadcastShapes([a, b])) : tensor(type)];
}

export const contribOps: Record<string, OpInference> = {
  MatMulNBits: (ctx) => [lastDimTo(ctx, 0, ctx.node.getInt("N"))],
  GatherBlockQuantized: gatherBlockQuantized,
  MultiHeadAttention: multiHeadAttention,
  GroupQueryAttention: groupQueryAttention,
  Attention: attention,
  DynamicQuantizeMatMul: (ctx) => {
    const a = ctx.dims(0);
    const b = ctx.dims(1);
    return [a && b ? tensor(FLOAT, matmulDims(a, b)) : tensor(FLOAT)];
  },
  MatMulIntegerToFloat: (ctx) => {
    const type = ctx.input(2)?.elemType ?? FLOAT;
    const a = ctx.dims(0);
    const b = ctx.dims(1);
    return [a && b ? tensor(type, matmulDims(a, b)) : tensor(type)];
  },
  FusedMatMul: fusedMatMul,
  QLinearAdd: qlinearBinary,
  QLinearMul: qlinearBinary,
  QLinearSigmoid: sameAs(0),
  QLinearLeakyRelu: sameAs(0),
  QLinearSoftmax: sameAs(0),
  QLinearConcat: qlinearConcat,
  QLinearGlobalAveragePool: (ctx) => {
    const x = ctx.input(0);
    if (!x?.dims) return [x];
    const last = ctx.node.getInt("channels_last", 0) === 1;
    return [
      tensor(
        x.elemType,
        x.dims.map((d, i) => (i === 0 || (last ? i === x.dims!.length - 1 : i === 1) ? d : 1)),
      ),
    ];
  },
  QLinearAveragePool: (ctx) => [nnOps.AveragePool!(ctx)[0]],
  QuantizeLinear: nnOps.QuantizeLinear!,
  DequantizeLinear: nnOps.DequantizeLinear!,
  DynamicQuantizeLinear: nnOps.DynamicQuantizeLinear!,
  SkipLayerNormalization: skipNorm,
  SkipSimplifiedLayerNormalization: skipNorm,
  SimplifiedLayerNormalization: (ctx) => {
    const x = ctx.input(0);
    return [x, x?.dims ? tensor(FLOAT, [...x.dims.slice(0, -1), 1]) : undefined];
  },
  LayerNormalization: nnOps.LayerNormalization!,
  RotaryEmbedding: sameAs(0),
  FastGelu: sameAs(0),
  BiasGelu: sameAs(0),
  Gelu: sameAs(0),
  QuickGelu: sameAs(0),
  BiasAdd: sameAs(0),
  BiasSplitGelu: (ctx) => {
    const x = ctx.input(0);
    return [x?.dims ? lastDimTo(ctx, 0, divDims(x.dims.at(-1)!, 2)) : x];
  },
  FusedConv: nnOps.Conv!,
  GemmFastGelu: (ctx) => {
    const a = ctx.dims(0);
    const b = ctx.dims(1);
    const t = ctx.input(0)?.elemType;
    return [t === undefined ? undefined : a && b ? tensor(t, matmulDims(a, b)) : tensor(t)];
  },
};
