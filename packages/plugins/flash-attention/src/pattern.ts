import { type OpPattern, type Pattern, patterns } from "@lathe/core";

const { op, v, c, anyOf, optional } = patterns;

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
  const scores = op(
    "MatMul",
    [
      anyOf(
        op("Mul", [v("q"), v("qScale")], { commutative: true }),
        // nn.MultiheadAttention scales q first: q / √h
        op("Div", [v("q"), v("qDivisor")]),
        v("q"),
      ),
      anyOf(op("Mul", [keyT, v("kScale")], { commutative: true }), keyT),
    ],
    { capture: "scores" },
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
export function attentionPattern(form: MaskForm): OpPattern {
  const softmax = op("Softmax", [masked(form)], { capture: "softmax" });
  const probs = optional(op("Cast", [optional(op("Cast", [softmax]))]));
  return op("MatMul", [probs, v("v")], { capture: "context" });
}
