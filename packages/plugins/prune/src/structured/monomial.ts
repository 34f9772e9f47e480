import type { Dim } from "@lathe/core";

/**
 * A product of dims: a number times symbolic dims (`batch`, `past + sequence`, each kept
 * whole as an opaque factor). Reshape strides are compared as monomials, so a reshape of
 * [batch, kv, groups, sequence, head] into [batch, kv·groups, sequence, head] is understood
 * although `sequence` has no value.
 */
export interface Monomial {
  readonly coefficient: number;
  /** The symbolic factors, sorted. */
  readonly symbols: readonly string[];
}

/** The product of `dims`; undefined when one of them is unknown. */
export function productOf(dims: readonly Dim[]): Monomial | undefined {
  let coefficient = 1;
  const symbols: string[] = [];
  for (const dim of dims) {
    if (dim === null) return undefined;
    if (typeof dim === "number") coefficient *= dim;
    else symbols.push(dim);
  }
  return { coefficient, symbols: symbols.sort() };
}

/** a / b as a number when both have the same symbolic factors. */
export function ratio(a: Monomial, b: Monomial): number | undefined {
  if (a.symbols.length !== b.symbols.length) return undefined;
  if (a.symbols.some((s, i) => s !== b.symbols[i])) return undefined;
  return a.coefficient / b.coefficient;
}
