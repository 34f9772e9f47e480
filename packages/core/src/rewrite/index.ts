export {
  type AnchorTrace,
  type ApplyOptions,
  applyRewriteRules,
  formatTrace,
  type RewriteReport,
  type RuleOutcome,
} from "./apply.js";
export { constantNumbers, constantOf, constantScalar } from "./constants.js";
export {
  describeFusedMatMul,
  type FusedMatMulAttributes,
  type FusedMatMulTransposes,
  fusedMatMul,
  fusedMatMulAttributes,
  fusedMatMulPermutation,
} from "./fused-matmul.js";
export { isMatch, type Match, type MatchFailure, matchPattern } from "./matcher.js";
export type {
  AnyOfPattern,
  AttributePredicate,
  ConstPattern,
  OpPattern,
  OptionalPattern,
  Pattern,
  VarPattern,
} from "./pattern.js";

import { fusedMatMul } from "./fused-matmul.js";
import { any, anyOf, c, op, optional, v } from "./pattern.js";

/** The pattern DSL: `const { op, v, c } = patterns;` then `op("Softmax", [v("x")])`. */
export const patterns = { op, v, c, any, anyOf, optional, fusedMatMul } as const;
export {
  accept,
  type BuildContext,
  type CheckResult,
  decline,
  defineRule,
  type RewriteContext,
  type RewriteRule,
} from "./rule.js";
export { planShape, type ShapePlan, staticRank } from "./shape-of.js";
