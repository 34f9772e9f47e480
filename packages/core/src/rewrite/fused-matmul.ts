import type { Node } from "../ir/node.js";
import { type OpOptions, type OpPattern, op, type Pattern } from "./pattern.js";

/**
 * ONNX Runtime's `com.microsoft` FusedMatMul: `Y = alpha · MatMul(opA(A), opB(B))`, written by
 * its graph optimizer when it folds a constant scale (MatMulScaleFusion) or a Transpose
 * (MatmulTransposeFusion) into a MatMul. Each operand is first transposed on its batch axes
 * (`transBatch*`: axis 0 moves to just before the last, `[1, …, r−2, 0, r−1]`), then on its last
 * two axes (`trans*`) — the order of ORT's MatMulComputeHelper.
 */
export interface FusedMatMulAttributes {
  readonly alpha: number;
  readonly transA: boolean;
  readonly transB: boolean;
  readonly transBatchA: boolean;
  readonly transBatchB: boolean;
}

const MICROSOFT_DOMAIN = "com.microsoft";

/** The transposition attributes, by name, as a pattern names the ones it expects set. */
export type FusedMatMulTransposes = Partial<Omit<FusedMatMulAttributes, "alpha">>;

const TRANSPOSES = ["transA", "transB", "transBatchA", "transBatchB"] as const;

/** A FusedMatMul node's attributes with the contrib op's defaults (alpha 1, no transposes). */
export function fusedMatMulAttributes(node: Node): FusedMatMulAttributes {
  return {
    alpha: node.getFloat("alpha", 1),
    transA: node.getInt("transA", 0) !== 0,
    transB: node.getInt("transB", 0) !== 0,
    transBatchA: node.getInt("transBatchA", 0) !== 0,
    transBatchB: node.getInt("transBatchB", 0) !== 0,
  };
}

/**
 * The permutation FusedMatMul applies to an operand of rank `rank` before the product, as a
 * Transpose's `perm` (output axis i reads input axis perm[i]); the identity when neither flag is
 * set. A vector is never transposed; `transBatch` needs rank 3 or more (ORT refuses it below).
 */
export function fusedMatMulPermutation(
  rank: number,
  trans: boolean,
  transBatch: boolean,
): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  if (rank < 2) return perm;
  const batched = transBatch && rank >= 3 ? [...perm.slice(1, rank - 1), 0, rank - 1] : perm;
  if (!trans) return batched;
  return [...batched.slice(0, rank - 2), batched[rank - 1]!, batched[rank - 2]!];
}

/** `"transA=1 transB=0 …"`: the transposition attributes, for reasons. */
export function describeFusedMatMul(attributes: FusedMatMulAttributes): string {
  const flags = TRANSPOSES.map((name) => `${name}=${attributes[name] ? 1 : 0}`).join(", ");
  return `alpha=${attributes.alpha}, ${flags}`;
}

/**
 * A pattern for a FusedMatMul whose transposition attributes are exactly `transposes` (those
 * not named must be 0); alpha is free: read it from the captured node with
 * `fusedMatMulAttributes`. One alternative per operand layout a rule knows:
 * `anyOf(op("MatMul", [q, kT]), fusedMatMul([q, kT]), fusedMatMul([q, k], { transB: true }))`.
 */
export function fusedMatMul(
  inputs: readonly Pattern[],
  transposes: FusedMatMulTransposes = {},
  options: Omit<OpOptions, "domain"> = {},
): OpPattern {
  return op("FusedMatMul", inputs, {
    ...options,
    domain: MICROSOFT_DOMAIN,
    where: (node) => {
      const actual = fusedMatMulAttributes(node);
      const wrong = TRANSPOSES.filter((name) => actual[name] !== (transposes[name] ?? false));
      if (wrong.length > 0)
        return `${wrong.map((name) => `${name} is ${actual[name] ? 1 : 0}`).join(", ")} (this form has ${wrong.map((name) => `${name}=${transposes[name] ? 1 : 0}`).join(", ")})`;
      return options.where?.(node);
    },
  });
}
