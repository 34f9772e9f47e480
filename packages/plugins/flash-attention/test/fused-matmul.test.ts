import {
  createBuilder,
  type DataRecord,
  DataType,
  type Model,
  Tensor,
  type Value,
} from "@lathe/core";
import { PassTester, randomFloats } from "@lathe/core/testing";
import { describe, it } from "vitest";
import { flashAttentionRewrite } from "../src/pass.js";

/**
 * Attention as ONNX Runtime's graph optimizer saves it (test/corpus/ort-optimize.mjs): the score
 * MatMul becomes com.microsoft FusedMatMul with the constant scale as `alpha`
 * (MatMulScaleFusion) and a transpose of an operand folded into transA/transB/transBatchA/
 * transBatchB (MatmulTransposeFusion). Built by hand here, with near misses; the corpus test runs
 * the models ORT itself wrote.
 */
const [N, H, D] = [4, 8, 32];

interface OrtFormOptions {
  /**
   * The score product: `bert` FusedMatMul(q, Transpose[0,2,3,1](k as [b, s, n, h])) (the
   * transpose kept, the scale folded); `llama` FusedMatMul(q, k, transB=1); `seq-first`
   * nn.MultiheadAttention's [s, b·n, h] views with transBatchA, transBatchB and transB.
   */
  scores: "bert" | "llama" | "seq-first";
  /** The value product as FusedMatMul (alpha 1; transBatchB for the seq-first views). */
  fusedValues?: boolean;
  /** alpha of the score product; default 1/√H. */
  alpha?: number;
  /** BERT's padding mask, (1 − mask) · −10000. */
  padding?: boolean;
  /** torch SDPA's is_causal mask: Where(Equal(Trilu(ones), 0), −inf, 0), added. */
  causal?: boolean;
  /** Near misses, each an equivalent or a different function ORT does not write. */
  nearMiss?: "transA" | "transBatchB-alone" | "context-alpha" | "context-transB";
}

const MICROSOFT = "com.microsoft";

function ortBlock(options: OrtFormOptions): Model {
  const b = createBuilder({ opset: 17 });
  const seqFirst = options.scores === "seq-first";
  // nn.MultiheadAttention's input is (seq, batch, embed); the others' (batch, seq, embed)
  const x = b.input("x", DataType.FLOAT, seqFirst ? ["seq", "batch", D] : ["batch", "seq", D]);
  const weight = (seed: number) =>
    b.constant(
      randomFloats(D * D, seed).map((w) => w * 0.3),
      [D, D],
    );
  const projection = (seed: number) => b.MatMul(x, weight(seed));
  const split = (t: Value) => b.Reshape(t, b.int64s([0, 0, N, H]));
  const heads = (t: Value) => b.Transpose(split(t), { perm: [0, 2, 1, 3] });
  const view = (t: Value) => b.Reshape(t, b.int64s([0, -1, H]));
  const fused = (a: Value, bb: Value, attributes: Record<string, number>) =>
    b.node("FusedMatMul", [a, bb], attributes, { domain: MICROSOFT }).outputs[0]!;
  const alpha = options.alpha ?? 1 / Math.sqrt(H);

  let scores: Value;
  let v: Value;
  if (options.scores === "seq-first") {
    const [q, k] = [view(projection(1)), view(projection(2))];
    v = view(projection(3));
    scores =
      options.nearMiss === "transBatchB-alone"
        ? // K as [h, b·n, s]: the same product, a layout no exporter writes
          fused(q, b.Transpose(k, { perm: [2, 1, 0] }), { alpha, transBatchA: 1, transBatchB: 1 })
        : fused(q, k, { alpha, transBatchA: 1, transBatchB: 1, transB: 1 });
  } else {
    const q = heads(projection(1));
    v = heads(projection(3));
    if (options.nearMiss === "transA") {
      // Qᵀ given with transA: the same product, a form ORT's fusion never leaves
      const k = heads(projection(2));
      scores = fused(b.Transpose(q, { perm: [0, 1, 3, 2] }), k, { alpha, transA: 1, transB: 1 });
    } else if (options.scores === "bert") {
      scores = fused(q, b.Transpose(split(projection(2)), { perm: [0, 2, 3, 1] }), { alpha });
    } else {
      scores = fused(q, heads(projection(2)), { alpha, transB: 1 });
    }
  }
  const additive: Value[] = [];
  if (options.padding) {
    const mask = b.input("attention_mask", DataType.INT64, ["batch", "seq"]);
    const expanded = b.Unsqueeze(mask, b.int64s([1, 2]));
    const inverted = b.Sub(b.scalar(1), b.Cast(expanded, { to: DataType.FLOAT }));
    additive.push(b.Mul(inverted, b.scalar(-10000)));
  }
  if (options.causal) {
    // the query length read from the scores' shape: a shape-only reader of the FusedMatMul,
    // rewired to its operands' shapes (core's planShape applies its transposes)
    const length = (t: Value) => b.Slice(b.Shape(t), b.int64s([2]), b.int64s([3]));
    const ones = b.Expand(b.constant([1], [1]), b.Concat(length(scores), length(v), { axis: 0 }));
    const tril = b.Trilu(ones, { upper: 0 });
    additive.push(b.Where(b.Equal(tril, b.scalar(0)), b.scalar(-Infinity), b.scalar(0)));
  }
  // the masks summed first, as transformers combines padding and causal masks
  const logits =
    additive.length > 0
      ? b.Add(
          scores,
          additive.reduce((sum, m) => b.Add(sum, m)),
        )
      : scores;
  const probs = b.Softmax(logits, { axis: -1 });
  let context: Value;
  if (options.nearMiss === "context-alpha") context = fused(probs, v, { alpha: 0.5 });
  else if (options.nearMiss === "context-transB")
    context = fused(probs, b.Transpose(v, { perm: [0, 1, 3, 2] }), { transB: 1 });
  else if (options.fusedValues) context = fused(probs, v, seqFirst ? { transBatchB: 1 } : {});
  else context = b.MatMul(probs, seqFirst ? b.Transpose(v, { perm: [1, 0, 2] }) : v);
  const y = seqFirst
    ? b.Reshape(b.Transpose(context, { perm: [1, 0, 2] }), b.int64s([0, -1, D]))
    : b.Reshape(b.Transpose(context, { perm: [0, 2, 1, 3] }), b.int64s([0, 0, D]));
  b.output(y, "y", DataType.FLOAT);
  return b.build();
}

/** Three lengths, the second row left-padded by two tokens where the block takes a mask. */
function records(padding: boolean): DataRecord[] {
  return [3, 9, 17].map((seq) => {
    const mask = new BigInt64Array(2 * seq).fill(1n);
    mask[seq] = 0n;
    mask[seq + 1] = 0n;
    return {
      x: Tensor.fromArray(DataType.FLOAT, [2, seq, D], randomFloats(2 * seq * D, seq)),
      ...(padding ? { attention_mask: Tensor.fromArray(DataType.INT64, [2, seq], mask) } : {}),
    };
  });
}

const fused: { name: string; block: OrtFormOptions; op: string; rule: string }[] = [
  {
    name: "BERT as ORT saves it: FusedMatMul(q, Kᵀ), scale in alpha, padding mask",
    block: { scores: "bert", padding: true },
    op: "MultiHeadAttention",
    rule: "additive-mask",
  },
  {
    name: "LLaMA as ORT saves it: FusedMatMul(q, k, transB=1), causal + padding",
    block: { scores: "llama", causal: true, padding: true },
    op: "GroupQueryAttention",
    rule: "additive-mask",
  },
  {
    name: "the value product as FusedMatMul too",
    block: { scores: "llama", fusedValues: true },
    op: "MultiHeadAttention",
    rule: "unmasked",
  },
  {
    name: "a constant alpha other than 1/√head is carried as the scale",
    block: { scores: "bert", alpha: 0.2 },
    op: "MultiHeadAttention",
    rule: "unmasked",
  },
  {
    name: "nn.MultiheadAttention as ORT saves it: transBatchA, transBatchB, transB; values by transBatchB",
    block: { scores: "seq-first", fusedValues: true },
    op: "MultiHeadAttention",
    rule: "unmasked",
  },
  {
    name: "nn.MultiheadAttention with the value product left a MatMul",
    block: { scores: "seq-first" },
    op: "MultiHeadAttention",
    rule: "unmasked",
  },
];

const nearMisses: { name: string; block: OrtFormOptions; reason: RegExp }[] = [
  {
    name: "transA on the scores (Qᵀ read transposed)",
    block: { scores: "llama", nearMiss: "transA" },
    reason: /transA=1.*transA transposes the query's last two axes/,
  },
  {
    name: "transBatchB without transB on the scores (K as [h, b·n, s])",
    block: { scores: "seq-first", nearMiss: "transBatchB-alone" },
    reason: /transBatchB without transB reads the key as \[head, batch·heads, seq\]/,
  },
  {
    name: "alpha on the value product (the scale in the wrong place)",
    block: { scores: "bert", nearMiss: "context-alpha" },
    reason: /scales the context by alpha = 0\.5/,
  },
  {
    name: "transB on the value product (Vᵀ read transposed)",
    block: { scores: "bert", nearMiss: "context-transB" },
    reason: /transB transposes the values' last two axes/,
  },
];

const tester = new PassTester(flashAttentionRewrite, { describe, it });

tester.run({
  cases: [
    ...fused.map(({ name, block, op, rule }) => ({
      name: `fuses: ${name}`,
      model: () => ortBlock(block),
      expect: {
        opsPresent: { [op]: 1 },
        opsAbsent: ["Softmax", "FusedMatMul"],
        statistics: { fused: 1, [`fused.${rule}`]: 1 },
        equivalent: { records: records(block.padding ?? false) },
      },
    })),
    ...nearMisses.map(({ name, block, reason }) => ({
      name: `declines: ${name}`,
      model: () => ortBlock(block),
      settings: { explain: true },
      expect: { unchanged: true, statistics: { fused: 0 }, logs: [reason] },
    })),
  ],
});
