import {
  createBuilder,
  type DataRecord,
  DataType,
  type Model,
  Tensor,
  type Value,
} from "@lathe/core";
import { PassTester, randomFloats } from "@lathe/core/testing";
import { gpt2 } from "@lathe/plugin-zoo";
import { describe, expect, it } from "vitest";
import { flashAttentionRewrite } from "../src/pass.js";
import { rewritten } from "./helpers.js";

const [N, H, D] = [4, 8, 32];

interface BlockOptions {
  opset?: number;
  /** The divisor of the scores: a number, or a per-head tensor (a wrong scale). */
  divisor?: number | "per-head";
  padding?: boolean;
  keyHeads?: number;
  extraScoresConsumer?: boolean;
  torch1?: boolean;
  /**
   * A causal mask from a Trilu of ones: `sdpa` as torch's SDPA `is_causal` symbolic writes it
   * (an additive Where(Equal(tril, 0), -inf, 0)), `where` as Where(tril, scores, min).
   */
  trilu?: "sdpa" | "where";
  /** The Trilu keeps the upper triangle (a near miss). */
  triluUpper?: boolean;
  /** Keys and values are concatenated after a cache (past_key/past_value inputs). */
  past?: boolean;
}

/** A BERT-style encoder attention block: x → Q/K/V → softmax(QKᵀ/√H + mask)·V → [B, S, D]. */
function encoderBlock(options: BlockOptions = {}): Model {
  const b = createBuilder({ opset: options.opset ?? 17 });
  const x = b.input("x", DataType.FLOAT, ["batch", "seq", D]);
  const weight = (seed: number) =>
    b.constant(
      randomFloats(D * D, seed).map((w) => w * 0.3),
      [D, D],
    );
  const heads = (t: Value, n = N) =>
    b.Transpose(b.Reshape(t, b.int64s([0, 0, n, D / n])), { perm: [0, 2, 1, 3] });
  const q = heads(b.MatMul(x, weight(1)));
  let k = heads(b.MatMul(x, weight(2)), options.keyHeads ?? N);
  let v = heads(b.MatMul(x, weight(3)));
  if (options.past) {
    const cached = (name: string) => b.input(name, DataType.FLOAT, ["batch", N, "past", H]);
    k = b.Concat(cached("past_key"), k, { axis: 2 });
    v = b.Concat(cached("past_value"), v, { axis: 2 });
  }
  const scores = b.MatMul(q, b.Transpose(k, { perm: [0, 1, 3, 2] }));
  const divisor =
    options.divisor === "per-head"
      ? b.constant([1, 2, 3, 4], [1, N, 1, 1])
      : b.scalar(options.divisor ?? Math.sqrt(H));
  // torch-1 SD (baddbmm): the scores multiplied by a folded 1/√d
  let logits = options.torch1 ? b.Mul(b.scalar(1 / Math.sqrt(H)), scores) : b.Div(scores, divisor);
  // additive masks are summed first, as transformers combines padding and causal masks
  const additive: Value[] = [];
  if (options.padding) {
    // transformers' BERT get_extended_attention_mask: (1 - mask[:, None, None, :]) * -10000
    const mask = b.input("attention_mask", DataType.INT64, ["batch", "seq"]);
    const expanded = b.Unsqueeze(b.Unsqueeze(mask, b.int64s([1])), b.int64s([2]));
    const inverted = b.Sub(b.scalar(1), b.Cast(expanded, { to: DataType.FLOAT }));
    additive.push(b.Mul(inverted, b.scalar(-10000)));
  }
  if (options.trilu) {
    // ones(S, T).tril(): S from the query, T from the keys
    const length = (t: Value) => b.Slice(b.Shape(t), b.int64s([2]), b.int64s([3]));
    const ones = b.Expand(b.constant([1], [1]), b.Concat(length(q), length(k), { axis: 0 }));
    const tril = b.Trilu(ones, { upper: options.triluUpper ? 1 : 0 });
    if (options.trilu === "sdpa")
      additive.push(b.Where(b.Equal(tril, b.scalar(0)), b.scalar(-Infinity), b.scalar(0)));
    else
      logits = b.Where(
        b.Cast(tril, { to: DataType.BOOL }),
        logits,
        b.scalar(-3.4028234663852886e38),
      );
  }
  if (additive.length > 0)
    logits = b.Add(
      logits,
      additive.reduce((sum, m) => b.Add(sum, m)),
    );
  const probs = b.Softmax(logits, { axis: -1 });
  const context = b.Transpose(b.MatMul(probs, v), { perm: [0, 2, 1, 3] });
  b.output(b.Reshape(context, b.int64s([0, 0, D])), "y", DataType.FLOAT);
  if (options.extraScoresConsumer) b.output(b.Identity(scores), "scores", DataType.FLOAT);
  return b.build();
}

/** 1 = attend, 0 = padding: row r keeps its first valid[r] tokens. */
function paddingMask(batch: number, seq: number, valid: number[]): Tensor {
  const data = new BigInt64Array(batch * seq);
  for (let r = 0; r < batch; r++) for (let j = 0; j < valid[r]!; j++) data[r * seq + j] = 1n;
  return Tensor.fromArray(DataType.INT64, [batch, seq], data);
}

/** Inputs at three sequence lengths, with a padded row when the block has a padding mask. */
function records(padding: boolean): DataRecord[] {
  return [3, 9, 17].map((seq) => ({
    x: Tensor.fromArray(DataType.FLOAT, [2, seq, D], randomFloats(2 * seq * D, seq)),
    ...(padding ? { attention_mask: paddingMask(2, seq, [seq, seq - 2]) } : {}),
  }));
}

const tester = new PassTester(flashAttentionRewrite, { describe, it });

/** Each form that fuses: the op it becomes and the rule that fused it; exact on ONNX Runtime. */
const fused: {
  name: string;
  block: BlockOptions;
  op: string;
  rule: string;
  prefer?: "standard";
}[] = [
  {
    name: "plain SDPA without mask → MultiHeadAttention",
    block: {},
    op: "MultiHeadAttention",
    rule: "unmasked",
  },
  {
    name: "BERT padding mask → MultiHeadAttention with attention_bias",
    block: { padding: true },
    op: "MultiHeadAttention",
    rule: "additive-mask",
  },
  {
    name: "a constant, non-default scale is carried over",
    block: { divisor: 5 },
    op: "MultiHeadAttention",
    rule: "unmasked",
  },
  {
    name: "torch-1 SD scale placement (Mul after the MatMul)",
    block: { torch1: true },
    op: "MultiHeadAttention",
    rule: "unmasked",
  },
  {
    name: "torch SDPA is_causal (Trilu of ones, additive) → GroupQueryAttention",
    block: { trilu: "sdpa" },
    op: "GroupQueryAttention",
    rule: "additive-mask",
  },
  {
    name: "Trilu causal mask plus a padding mask → GroupQueryAttention with attention_bias",
    block: { trilu: "sdpa", padding: true },
    op: "GroupQueryAttention",
    rule: "additive-mask",
  },
  {
    name: "Where(Trilu of ones, scores, min) → GroupQueryAttention",
    block: { trilu: "where" },
    op: "GroupQueryAttention",
    rule: "causal-buffer",
  },
  {
    name: "opset 23, prefer standard → ONNX Attention",
    block: { opset: 23, padding: true },
    op: "Attention",
    rule: "additive-mask",
    prefer: "standard",
  },
];

/** GPT-2 tiny with its causal buffer replaced by all ones: a non-causal mask. */
function gpt2WithFullBuffer(): Model {
  const model = gpt2.build(gpt2.presets.tiny, { seed: 1 }).components.get("model")!;
  for (const node of model.graph) {
    const value = node.attribute("value");
    if (
      node.opType === "Constant" &&
      value &&
      "value" in value &&
      value.value instanceof Tensor &&
      value.value.dataType === DataType.BOOL
    ) {
      const dims = value.value.dims;
      value.value = Tensor.fromBytes(
        DataType.BOOL,
        dims,
        new Uint8Array(dims.reduce((a, b) => a * b, 1)).fill(1),
      );
    }
  }
  return model;
}

/** Near misses: each is declined, with the reason in the explain trace, and nothing changes. */
const nearMisses = [
  {
    name: "wrong scale (a per-head tensor)",
    model: () => encoderBlock({ divisor: "per-head" }),
    reason: /wrong scale: .*4 elements/,
  },
  {
    name: "mismatched head counts",
    model: () => encoderBlock({ keyHeads: 2 }),
    reason: /mismatched head counts/,
    // The block itself does not run on ORT (K's heads do not match Q's): only the decline counts.
    verify: "check" as const,
  },
  {
    name: "an extra consumer of the scores",
    model: () => encoderBlock({ extraScoresConsumer: true }),
    reason: /has another consumer outside the pattern: Identity/,
  },
  {
    name: "an upper Trilu mask",
    model: () => encoderBlock({ trilu: "where", triluUpper: true }),
    reason: /upper Trilu, not lower-triangular/,
  },
  {
    name: "a top-left Trilu mask over a KV cache",
    model: () => encoderBlock({ trilu: "sdpa", past: true }),
    reason: /counts from the top-left corner/,
  },
  {
    name: "standard Attention on an opset-17 model",
    model: () => encoderBlock(),
    reason: /needs opset 23; the model imports 17/,
    prefer: "standard" as const,
  },
  {
    name: "a non-causal buffer on the causal rule",
    model: gpt2WithFullBuffer,
    reason: /not lower-triangular/,
  },
];

tester.run({
  valid: [{}, { target: "cuda", prefer: "standard", include: ["attn"], explain: true }],
  invalid: [
    { options: { target: "tpu" }, error: "must be equal to one of the allowed values" },
    { options: { include: ["attn("] }, error: 'must match format "regex"' },
  ],
  cases: [
    ...fused.map(({ name, block, op, rule, prefer }) => ({
      name: `fuses: ${name}`,
      model: () => encoderBlock(block),
      options: prefer ? { prefer } : {},
      expect: {
        opsPresent: { [op]: 1 },
        opsAbsent: ["Softmax"],
        statistics: { fused: 1, [`fused.${rule}`]: 1 },
        equivalent: { records: records(block.padding ?? false) },
      },
    })),
    ...nearMisses.map(({ name, model, reason, prefer, verify }) => ({
      name: `declines: ${name}`,
      model,
      options: prefer ? { prefer } : {},
      settings: { explain: true },
      expect: { unchanged: true, statistics: { fused: 0 }, logs: [reason], verify },
    })),
  ],
});

describe("flash-attention rules: already fused", () => {
  it("leaves a model with fused attention alone", async () => {
    const { model } = await rewritten(encoderBlock());
    const again = await rewritten(model);
    expect(again.report.modified).toBe(false);
    expect(again.report.trace).toEqual([]);
  });

  it("honours exclude by Softmax name and reports it", async () => {
    const { report } = await rewritten(encoderBlock(), { exclude: ["Softmax"] });
    expect(report.modified).toBe(false);
    expect(report.trace[0]?.skipped).toBe('name matches exclude pattern "Softmax"');
  });
});
