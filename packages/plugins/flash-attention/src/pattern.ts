import {
  describeFusedMatMul,
  fusedMatMulAttributes,
  type Node,
  type Pattern,
  patterns,
} from "@lathe/core";

const { op, v, c, anyOf, optional, fusedMatMul } = patterns;
const MICROSOFT = "com.microsoft";

/** How the scores are masked before the Softmax; one rule per form. */
export type MaskForm = "causal-buffer" | "additive-mask" | "unmasked";

/** Q·Kᵀ with the scale before (torch-2 SDPA: √s on Q and on Kᵀ) or after the MatMul. */
function scaledScores(): Pattern {
  const keyT = anyOf(
    op("Transpose", [v("k")], { attributes: { perm: [0, 1, 3, 2] }, capture: "keyT" }),
    // the key's own transpose(1, 2) and the symbolic's transpose(-2, -1) fused by the exporter
    op("Transpose", [v("kBsnh")], { attributes: { perm: [0, 2, 3, 1] }, capture: "keyT" }),
    // diffusers' (batch·heads, seq, head) layout: bmm / baddbmm with key.transpose(-1, -2)
    op("Transpose", [v("k")], { attributes: { perm: [0, 2, 1] }, capture: "keyT" }),
    // nn.MultiheadAttention: k.view(s, b·n, h).transpose(0, 1).transpose(-2, -1) fused
    op("Transpose", [v("kSeqFirst")], { attributes: { perm: [1, 2, 0] }, capture: "keyT" }),
  );
  const query = anyOf(
    op("Mul", [v("q"), v("qScale")], { commutative: true }),
    // nn.MultiheadAttention scales q first: q / √h
    op("Div", [v("q"), v("qDivisor")]),
    v("q"),
  );
  const key = anyOf(op("Mul", [keyT, v("kScale")], { commutative: true }), keyT);
  const captured = { capture: "scores" };
  // ONNX Runtime's optimizer: a constant scale folded into alpha (read in analyze.ts), the key's
  // last-two-axes transpose into transB, nn.MultiheadAttention's (seq, batch·heads, head)
  // transposes into transBatchA/transBatchB. MatMul comes last so that a plain model's reason
  // reads "expected MatMul"; a FusedMatMul no alternative takes gets unknownScores' reason.
  const scores = anyOf(
    fusedMatMul([query, key], {}, captured),
    fusedMatMul([query, v("k")], { transB: true }, captured),
    fusedMatMul([query, v("kSeqFirst")], { transB: true, transBatchB: true }, captured),
    fusedMatMul([v("qSeqFirst"), key], { transBatchA: true }, captured),
    fusedMatMul([v("qSeqFirst"), v("k")], { transBatchA: true, transB: true }, captured),
    fusedMatMul(
      [v("qSeqFirst"), v("kSeqFirst")],
      { transBatchA: true, transBatchB: true, transB: true },
      captured,
    ),
    op("FusedMatMul", undefined, { domain: MICROSOFT, where: unknownScores }),
    op("MatMul", [query, key], captured),
  );
  return anyOf(
    op("Div", [scores, v("divisor")]),
    op("Mul", [scores, v("multiplier")], { commutative: true }),
    scores,
  );
}

function masked(form: MaskForm): Pattern {
  const scaled = scaledScores();
  switch (form) {
    case "causal-buffer": {
      const where = op("Where", [v("causal"), optional(op("Cast", [scaled])), c("fill")], {
        capture: "where",
      });
      return anyOf(op("Add", [where, v("mask")], { commutative: true }), where);
    }
    case "additive-mask":
      return op("Add", [scaled, v("mask")], { commutative: true });
    case "unmasked":
      return scaled;
  }
}

/**
 * softmax(scale·Q·Kᵀ [masked]) · V in [batch, heads, seq, head]: the core every exporter
 * writes, with the casts transformers keeps around the Softmax.
 */
export function attentionPattern(form: MaskForm): Pattern {
  const softmax = op("Softmax", [masked(form)], { capture: "softmax" });
  const probs = optional(op("Cast", [optional(op("Cast", [softmax]))]));
  const captured = { capture: "context" };
  return anyOf(
    // alpha ≠ 1 (a scaled context) is declined in analyze.ts with the reason
    fusedMatMul([probs, v("v")], {}, captured),
    fusedMatMul([probs, v("vSeqFirst")], { transBatchB: true }, captured),
    op("FusedMatMul", undefined, { domain: MICROSOFT, where: unknownValueProduct }),
    op("MatMul", [probs, v("v")], captured),
  );
}

/**
 * Why a FusedMatMul is not Q·Kᵀ in a layout the rules read (the last alternative: it only fails,
 * and its reason stands unless another alternative got further). Handled: A is Q as
 * [b, n, s, h] / [b·n, s, h] or, with transBatchA, [s, b·n, h]; B is Kᵀ as exporters transpose
 * it, K with transB, or K as [s, b·n, h] with transB and transBatchB.
 */
function unknownScores(node: Node): string {
  const a = fusedMatMulAttributes(node);
  const what = `${describeFusedMatMul(a)}:`;
  if (a.transA)
    return `${what} transA transposes the query's last two axes: the rules read Q as exporters write it, [.., seq, head], not Qᵀ`;
  if (a.transBatchB && !a.transB)
    return `${what} transBatchB without transB reads the key as [head, batch·heads, seq]: no exporter writes that layout`;
  return `${what} the operands are not Q and Kᵀ in a layout the rules read`;
}

/** Why a FusedMatMul after the Softmax is not probabilities · V. */
function unknownValueProduct(node: Node): string {
  const a = fusedMatMulAttributes(node);
  const what = `${describeFusedMatMul(a)}:`;
  if (a.transA || a.transBatchA)
    return `${what} the attention probabilities are transposed (transA/transBatchA): not softmax·V`;
  if (a.transB)
    return `${what} transB transposes the values' last two axes: the rules read V as exporters write it, [.., seq, head], not Vᵀ`;
  return `${what} the operands are not the probabilities and V`;
}
