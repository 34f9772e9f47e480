import type { Node } from "../ir/node.js";
import type { Tensor } from "../ir/tensor.js";
import type { Value } from "../ir/value.js";

/**
 * A pattern is the subgraph a rule matches, written from its output back to its inputs:
 * `op("Softmax", [op("Add", [v("scores"), v("mask")], { commutative: true })])`.
 */
export type Pattern = OpPattern | VarPattern | ConstPattern | AnyOfPattern | OptionalPattern;

/** An attribute test: a literal the attribute must equal, or a predicate on its JS value. */
export type AttributePredicate = unknown | ((value: unknown) => boolean);

export interface OpPattern {
  readonly kind: "op";
  readonly opType: string;
  /** "" is the default ONNX domain. */
  readonly domain: string;
  /** Sub-patterns of the inputs in order; omitted: any inputs. */
  readonly inputs: readonly Pattern[] | undefined;
  /** Two-input ops whose inputs may come in either order (Add, Mul). */
  readonly commutative: boolean;
  readonly attributes: Readonly<Record<string, AttributePredicate>>;
  /** Which output of the node the matched value is. */
  readonly outputIndex: number;
  /** Binds the node under this name in the match. */
  readonly capture: string | undefined;
  /**
   * The node's outputs may be read outside the match: it is kept when still used after the
   * rewrite instead of making the rule decline.
   */
  readonly shared: boolean;
  /** Extra test on the node itself, with a reason when it fails. */
  readonly where: ((node: Node) => string | undefined) | undefined;
}

/** Any value (a graph input, a node output, a constant), bound by name. */
export interface VarPattern {
  readonly kind: "var";
  readonly name: string;
  readonly where: ((value: Value) => string | undefined) | undefined;
}

/** A constant: an initializer or the output of a `Constant` node, tested by a predicate. */
export interface ConstPattern {
  readonly kind: "const";
  readonly name: string | undefined;
  readonly where: ((tensor: Tensor) => string | undefined) | undefined;
}

/** The first alternative that matches. */
export interface AnyOfPattern {
  readonly kind: "anyOf";
  readonly alternatives: readonly Pattern[];
}

/** An op that may be absent (a same-type Cast, an Identity): `optional(op("Cast", [x]))`. */
export interface OptionalPattern {
  readonly kind: "optional";
  readonly op: OpPattern;
}

export interface OpOptions {
  domain?: string;
  commutative?: boolean;
  attributes?: Record<string, AttributePredicate>;
  outputIndex?: number;
  capture?: string;
  shared?: boolean;
  where?: (node: Node) => string | undefined;
}

/** `op("MatMul", [v("q"), v("k")], { capture: "scores" })`. */
export function op(
  opType: string,
  inputs?: readonly Pattern[],
  options: OpOptions = {},
): OpPattern {
  return {
    kind: "op",
    opType,
    domain: options.domain === "ai.onnx" ? "" : (options.domain ?? ""),
    inputs,
    commutative: options.commutative ?? false,
    attributes: options.attributes ?? {},
    outputIndex: options.outputIndex ?? 0,
    capture: options.capture,
    shared: options.shared ?? false,
    where: options.where,
  };
}

/** A captured value; the same name twice must bind the same value. */
export function v(name: string, where?: (value: Value) => string | undefined): VarPattern {
  return { kind: "var", name, where };
}

/** A value that is not captured (`_` in onnxscript patterns). */
export const any: VarPattern = { kind: "var", name: "", where: undefined };

/** A constant, optionally named and tested: `c("scale", isScalar)`. */
export function c(name?: string, where?: (tensor: Tensor) => string | undefined): ConstPattern {
  return { kind: "const", name, where };
}

export function anyOf(...alternatives: Pattern[]): AnyOfPattern {
  return { kind: "anyOf", alternatives };
}

/** The op, or its first input's pattern when the op is absent. */
export function optional(pattern: OpPattern): OptionalPattern {
  if (!pattern.inputs?.[0]) throw new Error(`optional(${pattern.opType}) needs an input pattern`);
  return { kind: "optional", op: pattern };
}

/** Every op pattern in `pattern`, depth first (for finding the anchor and its depth). */
export function* opPatterns(pattern: Pattern, depth = 0): IterableIterator<[OpPattern, number]> {
  switch (pattern.kind) {
    case "op":
      yield [pattern, depth];
      for (const input of pattern.inputs ?? []) yield* opPatterns(input, depth + 1);
      return;
    case "optional":
      yield* opPatterns(pattern.op, depth);
      return;
    case "anyOf":
      for (const alt of pattern.alternatives) yield* opPatterns(alt, depth);
      return;
    default:
      return;
  }
}
