import { defineRule, type RewriteRule } from "@lathe/core";
import { type AttentionBlock, type AttentionOptions, analyzeAttention } from "./analyze.js";
import { emitAttention } from "./emit.js";
import { attentionPattern, type MaskForm } from "./pattern.js";

const DESCRIPTIONS: Record<MaskForm, string> = {
  "causal-buffer":
    "GPT-2: scores masked by Where(a slice of a lower-triangular buffer, or a lower Trilu of ones, scores, min), plus an optional additive padding mask",
  "additive-mask":
    "LLaMA (4-D causal + padding mask), torch SDPA is_causal (Trilu), BERT-style encoders (padding mask), diffusers' baddbmm with beta 0 (a zero addend): softmax(scores + mask)",
  unmasked:
    "Stable Diffusion self/cross attention (torch-1 and torch-2 scale placement), plain SDPA",
};

/** The rules in the order they are tried on each Softmax. */
export function attentionRules(options: AttentionOptions): RewriteRule<AttentionBlock>[] {
  return (["causal-buffer", "additive-mask", "unmasked"] as const).map((form) =>
    defineRule<AttentionBlock>({
      name: form,
      description: DESCRIPTIONS[form],
      pattern: attentionPattern(form),
      anchor: "softmax",
      check: (match, { model }) => analyzeAttention(form, match, model, options),
      rewrite: (match, block, { builder }) =>
        emitAttention(builder, block, match.root, block.q.bnsh),
    }),
  );
}
