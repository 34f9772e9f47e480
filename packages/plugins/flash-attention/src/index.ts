export type { AttentionBlock, AttentionOptions, FusedOp } from "./analyze.js";
export {
  attentionStatistics,
  type ComponentRewrite,
  type FlashAttentionOptions,
  flashAttentionRewrite,
  type RewriteOptions,
  rewriteAttention,
} from "./pass.js";
export { default } from "./plugin.js";
export { attentionRules } from "./rules.js";
