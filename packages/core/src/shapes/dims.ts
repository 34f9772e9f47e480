import type { Dim } from "../ir/types.js";

/**
 * Arithmetic on dimensions that may be symbolic: a dim is a number, a symbol (`batch`), an
 * expression over symbols (`seq + past`, `2*heads`), or unknown (null). Expressions are sums of
 * products of symbols with integer coefficients, kept in the order terms first appeared, so
 * `seq + past` stays readable; two expressions are equal when their terms are.
 */
type Terms = Map<string, number>; // monomial ("" for the constant, "a*b" sorted) → coefficient

const SYMBOL = /^[A-Za-z_][\w.]*$/;

function parse(dim: Dim): Terms | undefined {
  if (dim === null) return undefined;
  if (typeof dim === "number") return new Map([["", dim]]);
  const terms: Terms = new Map();
  const tokens = dim.split(/\s+([+-])\s+/);
  for (let i = 0; i < tokens.length; i += 2) {
    const sign = i === 0 ? 1 : tokens[i - 1] === "-" ? -1 : 1;
    const parsed = parseProduct(tokens[i]!);
    if (!parsed) return new Map([[atom(dim), 1]]); // a name we cannot read: one opaque symbol
    const [monomial, coefficient] = parsed;
    terms.set(monomial, (terms.get(monomial) ?? 0) + sign * coefficient);
  }
  return terms;
}

function parseProduct(text: string): [string, number] | undefined {
  let coefficient = 1;
  const symbols: string[] = [];
  for (const factor of text.split("*")) {
    const f = factor.trim();
    if (/^\d+$/.test(f)) coefficient *= Number(f);
    else if (SYMBOL.test(f)) symbols.push(f);
    else return undefined;
  }
  return [symbols.sort().join("*"), coefficient];
}

/** An opaque symbol for a name that is not an expression (wrapped so it never re-parses). */
function atom(name: string): string {
  return SYMBOL.test(name) ? name : `(${name})`;
}

function format(terms: Terms): Dim {
  const parts: string[] = [];
  let constant = 0;
  for (const [monomial, c] of terms) {
    if (c === 0) continue;
    if (monomial === "") {
      constant += c;
      continue;
    }
    const body = Math.abs(c) === 1 ? monomial : `${Math.abs(c)}*${monomial}`;
    parts.push(parts.length === 0 ? (c < 0 ? `-${body}` : body) : `${c < 0 ? "-" : "+"} ${body}`);
  }
  if (parts.length === 0) return constant;
  if (constant !== 0) parts.push(`${constant < 0 ? "-" : "+"} ${Math.abs(constant)}`);
  const text = parts.join(" ");
  return text.startsWith("(") && text.endsWith(")") && parts.length === 1
    ? text.slice(1, -1)
    : text;
}

function combine(a: Dim, b: Dim, sign: 1 | -1): Dim {
  if (typeof a === "number" && typeof b === "number") return a + sign * b;
  const ta = parse(a);
  const tb = parse(b);
  if (!ta || !tb) return null;
  const out: Terms = new Map(ta);
  for (const [m, c] of tb) out.set(m, (out.get(m) ?? 0) + sign * c);
  return format(out);
}

export function addDims(a: Dim, b: Dim): Dim {
  return combine(a, b, 1);
}

export function subDims(a: Dim, b: Dim): Dim {
  return combine(a, b, -1);
}

export function mulDims(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return a * b;
  if (a === 0 || b === 0) return 0;
  if (a === 1) return b;
  if (b === 1) return a;
  const ta = parse(a);
  const tb = parse(b);
  if (!ta || !tb) return null;
  const out: Terms = new Map();
  for (const [ma, ca] of ta)
    for (const [mb, cb] of tb) {
      const m = [...ma.split("*"), ...mb.split("*")]
        .filter((s) => s !== "")
        .sort()
        .join("*");
      out.set(m, (out.get(m) ?? 0) + ca * cb);
    }
  return format(out);
}

/** Exact division only (`64*heads / 64` is `heads`, `batch*seq*256 / batch*seq` is 256). */
export function divDims(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number")
    return b !== 0 && a % b === 0 ? a / b : b !== 0 ? Math.floor(a / b) : null;
  if (b === 1) return a;
  if (a === null || b === null || b === 0) return null;
  if (a === b) return 1;
  const ta = parse(a);
  const tb = parse(b);
  if (!ta || !tb || tb.size !== 1) return null;
  const [[divisor, c]] = [...tb] as [[string, number]];
  const out: Terms = new Map();
  for (const [m, coefficient] of ta) {
    const rest = removeFactors(m, divisor);
    if (rest === undefined || coefficient % c !== 0) return null;
    out.set(rest, (out.get(rest) ?? 0) + coefficient / c);
  }
  return format(out);
}

/** The monomial `m` without the symbols of `divisor` (undefined when it lacks one). */
function removeFactors(m: string, divisor: string): string | undefined {
  const symbols = m === "" ? [] : m.split("*");
  for (const s of divisor === "" ? [] : divisor.split("*")) {
    const at = symbols.indexOf(s);
    if (at < 0) return undefined;
    symbols.splice(at, 1);
  }
  return symbols.join("*");
}

/** The product of dims (an element count), null when one is unknown. */
export function productDims(dims: readonly Dim[]): Dim {
  let p: Dim = 1;
  for (const d of dims) {
    p = mulDims(p, d);
    if (p === null) return null;
  }
  return p;
}

/** Whether two dims are known to be equal (unknown dims are equal to nothing). */
export function sameDim(a: Dim, b: Dim): boolean {
  if (a === null || b === null) return false;
  if (a === b) return true;
  if (typeof a === "number" || typeof b === "number") return false;
  const d = subDims(a, b);
  return d === 0;
}

/** Numpy broadcast of one dim pair: 1 gives way; equal dims stay; otherwise unknown. */
export function broadcastDim(a: Dim, b: Dim): Dim {
  if (a === 1) return b;
  if (b === 1) return a;
  if (sameDim(a, b)) return a;
  if (typeof a === "number" && typeof b !== "number") return a; // b must be a (or 1)
  if (typeof b === "number" && typeof a !== "number") return b;
  return null;
}

/** The broadcast of several shapes (numpy rules, aligned on the right). */
export function broadcastShapes(shapes: readonly (readonly Dim[])[]): Dim[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: Dim[] = new Array(rank).fill(1);
  for (const s of shapes)
    for (let i = 0; i < s.length; i++) {
      const at = rank - s.length + i;
      out[at] = broadcastDim(out[at]!, s[i]!);
    }
  return out;
}
