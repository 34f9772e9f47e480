import {
  AttributeType,
  accept,
  type CheckResult,
  constantScalar,
  DataType,
  decline,
  fusedMatMulAttributes,
  type Match,
  type Model,
  staticRank,
  type Value,
} from "@lathe/core";
import { type CausalAlignment, causalCondition, splitCausalMask } from "./causal.js";
import { bnshOperand, bsnhOperand, type HeadsOperand, seqFirstView } from "./heads.js";
import type { MaskForm } from "./pattern.js";
import { type Rotary, rotaryOf } from "./rotary.js";
import { classifyScale, type ScalarOfHead, scalarOfHead } from "./scale.js";

export type FusedOp = "GroupQueryAttention" | "MultiHeadAttention" | "Attention";

export type AttentionTarget = "cpu" | "cuda" | "webgpu";

export interface AttentionOptions {
  target: AttentionTarget;
  /**
   * contrib: com.microsoft GroupQueryAttention / MultiHeadAttention; standard: ONNX Attention
   * (needs an opset-23 model).
   * @default "contrib"
   */
  prefer: "contrib" | "standard";
}

/** What the rewrite needs to know about one matched attention block. */
export interface AttentionBlock {
  readonly fusedOp: FusedOp;
  readonly q: HeadsOperand;
  readonly k: HeadsOperand & { bsnh?: Value };
  readonly v: HeadsOperand;
  readonly heads: number;
  readonly kvHeads: number;
  /** Undefined: the op's default 1/√head. */
  readonly scale: number | undefined;
  readonly causal: boolean;
  /** Additive mask applied besides causality (padding), broadcastable to [B, 1, S, T]. */
  readonly bias: Value | undefined;
  /** RoPE on Q and the new K, folded into GroupQueryAttention (`do_rotary`). */
  readonly rotary: { q: Rotary; k: Rotary } | undefined;
}

/** The standard ONNX Attention needs the model's default opset to be at least this. */
export const STANDARD_ATTENTION_OPSET = 23;

export function analyzeAttention(
  form: MaskForm,
  match: Match,
  model: Model,
  options: AttentionOptions,
): CheckResult<AttentionBlock> {
  const softmax = match.node("softmax");
  const axis = softmax.getInt("axis", -1);
  if (axis !== -1 && axis !== 3) return decline(`the Softmax runs over axis ${axis}, not the keys`);
  if ((model.opset("") ?? 0) < 13 && !softmax.attributes.has("axis"))
    return decline("Softmax before opset 13 flattens its input: not a per-row softmax");

  // a FusedMatMul's transBatchA/transBatchB: the operand as its [s, b·n, h] view
  const qSeqFirst = match.values.get("qSeqFirst");
  const vSeqFirst = match.values.get("vSeqFirst");
  const query = qSeqFirst ?? match.value("q");
  const values = vSeqFirst ?? match.value("v");
  const q = qSeqFirst ? seqFirstView(qSeqFirst) : bnshOperand(query);
  if (!q) return decline("cannot tell the query's heads (a [s, b·n, h] view of a projection)");
  const kBsnh = match.values.get("kBsnh");
  const kSeqFirst = match.values.get("kSeqFirst");
  const k = kBsnh
    ? bsnhOperand(kBsnh)
    : kSeqFirst
      ? seqFirstView(kSeqFirst)
      : bnshOperand(match.value("k"));
  if (!k) return decline("cannot tell the key's heads (a [s, b·n, h] view of a projection)");
  const v = vSeqFirst ? seqFirstView(vSeqFirst) : bnshOperand(values);
  if (!v) return decline("cannot tell the value's heads (a [s, b·n, h] view of a projection)");
  const context = match.node("context");
  if (context.opType === "FusedMatMul") {
    const { alpha } = fusedMatMulAttributes(context);
    if (alpha !== 1)
      return decline(
        `the value product FusedMatMul "${context.name}" scales the context by alpha = ${alpha}: the scale belongs on the scores, and the fused op has no output scale`,
      );
  }
  if (q.heads === undefined)
    return decline("cannot tell the number of query heads (no static Reshape to [b, s, n, h])");
  if (k.heads === undefined || v.heads === undefined)
    return decline("cannot tell the number of key/value heads (no static Reshape to [b, s, n, h])");
  if (q.past) return decline("the query is concatenated with a cache");
  if (k.heads !== v.heads || k.groups !== v.groups)
    return decline(
      `mismatched head counts: keys have ${k.heads}×${k.groups}, values ${v.heads}×${v.groups}`,
    );
  if (k.heads * k.groups !== q.heads)
    return decline(
      `mismatched head counts: ${q.heads} query heads, ${k.heads} key heads repeated ${k.groups}×`,
    );
  if (!!k.past !== !!v.past) return decline("only one of key and value reads a cache");

  const headTensors = new Set<Value>(
    [
      query,
      match.values.get("k"),
      kBsnh,
      kSeqFirst,
      values,
      q.bnsh,
      k.bnsh,
      v.bnsh,
      k.present,
      v.present,
    ].filter((x): x is Value => x !== undefined),
  );
  const factors: ScalarOfHead[] = [];
  for (const [name, invert] of [
    ["qScale", false],
    ["kScale", false],
    ["multiplier", false],
    ["divisor", true],
    ["qDivisor", true],
  ] as const) {
    const value = match.values.get(name);
    if (!value) continue;
    const f = scalarOfHead(value, headTensors);
    if (typeof f === "string") return decline(`wrong scale: ${f}`);
    factors.push(invert ? (h) => 1 / f(h) : f);
  }
  // ONNX Runtime's MatMulScaleFusion: the constant scale as the scores FusedMatMul's alpha
  const scores = match.node("scores");
  if (scores.opType === "FusedMatMul") {
    const { alpha } = fusedMatMulAttributes(scores);
    factors.push(() => alpha);
  }
  const scaleKind = classifyScale((h) => factors.reduce((p, f) => p * f(h), 1));
  if (scaleKind.kind === "other")
    return decline("wrong scale: neither a constant nor 1/√head_size");
  const scale = scaleKind.kind === "constant" ? scaleKind.value : undefined;

  let causal = false;
  let alignment: CausalAlignment | undefined;
  let bias: Value | undefined;
  if (form === "causal-buffer") {
    const condition = causalCondition(match.value("causal"));
    if (typeof condition !== "string") return decline(condition.reason);
    alignment = condition;
    const fill = Number(match.constant("fill").toArray()[0]);
    if (!(fill <= -1e4))
      return decline(`the masked scores are filled with ${fill}, not a large negative value`);
    causal = true;
    bias = match.values.get("mask");
  } else if (form === "additive-mask" && !isZeroAddend(match.value("mask"))) {
    const mask = match.value("mask");
    const split = splitCausalMask(mask);
    causal = split !== undefined;
    alignment = split?.alignment;
    bias = split ? split.padding : mask;
  }
  // GroupQueryAttention's causality counts from the bottom-right corner; a top-left mask is the
  // same function only when the keys are the query's own tokens
  if (alignment === "top-left" && (k.past || !sameSequence(query, k.bnsh)))
    return decline(
      "the Trilu causal mask counts from the top-left corner and the keys are not the query's own tokens (a cache or another sequence): not GroupQueryAttention's causality",
    );
  const merged = q.seqFirst !== undefined || staticRank(query) === 3;
  const biasRank = bias && staticRank(bias);
  if (bias && biasRank !== undefined && biasRank !== (merged ? 3 : 4))
    return decline(`the additive mask has rank ${biasRank}, not ${merged ? 3 : 4}`);

  let fusedOp = chooseOp(causal, !!k.past, options, model);
  if (typeof fusedOp !== "string") return decline(fusedOp.reason);
  let rotary = fusedOp === "GroupQueryAttention" ? foldableRotary(query, k) : undefined;
  if (fusedOp === "GroupQueryAttention" && cachedStepAsMultiHead(options, k, rotary)) {
    fusedOp = "MultiHeadAttention";
    rotary = undefined;
  }
  // non-causal grouped-query attention: MultiHeadAttention over the keys and values repeat_kv
  // widened (its contrib op has one head count)
  const repeated = fusedOp === "MultiHeadAttention" && k.groups > 1;
  const widened = (value: Value): HeadsOperand => ({
    bnsh: value,
    bsd: undefined,
    heads: q.heads,
    past: undefined,
    present: undefined,
    groups: 1,
  });
  return accept({
    fusedOp,
    q,
    k: repeated ? widened(match.value("k")) : k,
    v: repeated ? widened(values) : v,
    heads: q.heads,
    kvHeads: repeated ? q.heads : k.heads,
    scale,
    causal,
    bias,
    rotary,
  });
}

/**
 * Whether two head tensors are computed from one activation (self-attention): some tensor that
 * is not a constant lies within a few producers above both.
 */
function sameSequence(a: Value, b: Value): boolean {
  const above = (start: Value) => {
    const seen = new Set<Value>();
    let frontier = [start];
    for (let depth = 0; depth < 6 && frontier.length > 0; depth++) {
      const next: Value[] = [];
      for (const value of frontier) {
        if (seen.has(value) || value.constValue) continue;
        seen.add(value);
        const producer = value.producer();
        if (producer && producer.opType !== "Shape")
          for (const input of producer.inputs) if (input) next.push(input);
      }
      frontier = next;
    }
    return seen;
  };
  const fromA = above(a);
  for (const value of above(b)) if (fromA.has(value)) return true;
  return false;
}

/**
 * `baddbmm(empty, q, kᵀ, beta=0)` as torch exports it: the scores plus
 * Mul(ConstantOfShape(shape), 0), an addend that is zero (ConstantOfShape fills a finite 0).
 */
function isZeroAddend(value: Value): boolean {
  const mul = value.producer();
  if (mul?.opType !== "Mul" || mul.domain !== "") return false;
  const [a, b] = mul.inputs;
  for (const [filled, factor] of [
    [a, b],
    [b, a],
  ] as const) {
    const fill = filled?.producer();
    if (fill?.opType !== "ConstantOfShape" || constantScalar(factor) !== 0) continue;
    const attribute = fill.attribute("value");
    const fillValue =
      attribute?.type === AttributeType.TENSOR ? Number(attribute.value.toArray()[0]) : 0;
    if (Number.isFinite(fillValue)) return true;
  }
  return false;
}

/** The fused op for the target, by the kernel conditions in notes A3/A4. */
function chooseOp(
  causal: boolean,
  cached: boolean,
  options: AttentionOptions,
  model: Model,
): FusedOp | { reason: string } {
  if (options.prefer === "standard") {
    const opset = model.opset("") ?? 0;
    if (opset < STANDARD_ATTENTION_OPSET)
      return {
        reason: `the standard Attention needs opset ${STANDARD_ATTENTION_OPSET}; the model imports ${opset} (use prefer: contrib)`,
      };
    return "Attention";
  }
  if (causal) {
    // notes A3: CUDA registers GroupQueryAttention for fp16/bf16 only
    if (options.target === "cuda" && floatTypeOf(model) === DataType.FLOAT)
      return {
        reason:
          "GroupQueryAttention on CUDA runs fp16/bf16 only and this model is fp32 (convert it to fp16 first, or prefer: standard on an opset-23 model)",
      };
    return "GroupQueryAttention";
  }
  if (cached)
    return { reason: "non-causal attention over a KV cache has no contrib replacement here" };
  return "MultiHeadAttention";
}

/**
 * A causal step over a KV cache on the CPU runs as MultiHeadAttention (`unidirectional`, the
 * cache as its past) when it has one head count and no rotation to fold: ORT's CPU
 * GroupQueryAttention zero-fills its whole present cache before copying the past into it, one
 * more write of the cache per step, which made GPT-2's decode step at past 1024 slower than the
 * unfused Concat (bench/README.md, Attention). MultiHeadAttention concatenates without it.
 */
function cachedStepAsMultiHead(
  options: AttentionOptions,
  k: HeadsOperand,
  rotary: { q: Rotary; k: Rotary } | undefined,
): boolean {
  return options.target === "cpu" && !!k.past && k.groups === 1 && !rotary;
}

/** The model's float type, read from its first float output (fp32 when none says). */
function floatTypeOf(model: Model): DataType {
  const floats = [DataType.FLOAT, DataType.FLOAT16, DataType.BFLOAT16];
  for (const output of model.graph.outputs) {
    const type = output.type;
    if (type?.kind === "tensor" && floats.includes(type.elemType)) return type.elemType;
  }
  return DataType.FLOAT;
}

/** Q and the new K rotated by the same caches and positions: GQA can rotate them itself. */
function foldableRotary(query: Value, k: HeadsOperand): { q: Rotary; k: Rotary } | undefined {
  const q = rotaryOf(query);
  const key = rotaryOf(k.bnsh);
  if (!q || !key || q.positionIds !== key.positionIds) return undefined;
  if (q.cos !== key.cos || q.sin !== key.sin) return undefined;
  // ORT's GroupQueryAttention rotates only heads whose size is a multiple of 16
  if ((q.cos.dims[1] ?? 0) % 16 !== 0) return undefined;
  if (!bnshOperand(q.input).bsd || !bnshOperand(key.input).bsd) return undefined;
  return { q, k: key };
}
