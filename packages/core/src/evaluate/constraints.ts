/**
 * Recipe constraints: `<metric>.<value> <op> <bound>`, where the bound is a number, `reference`
 * (the input model's value) or `<k> * reference`, either optionally `+ <d>` or `- <d>`
 * (`cer.cer <= reference + 0.02`: an absolute allowance). docs/evaluate.md has the grammar.
 */

export type Comparison = "<" | "<=" | ">" | ">=";

export interface Constraint {
  /** The text as the recipe wrote it. */
  readonly text: string;
  /** The metric's name: the last part of its id (`latency` for `core/latency`). */
  readonly metric: string;
  /** The value inside the metric: `p50`, `top1`, `logits.kl`. */
  readonly key: string;
  readonly op: Comparison;
  /** The number, or the factor applied to the reference's value when `relative`. */
  readonly bound: number;
  readonly relative: boolean;
  /** Added to the reference's (scaled) value: `reference + 0.02` (0 when not written). */
  readonly offset: number;
  /** Where the recipe lists it (`file:line:col evaluate.constraints[0]`), when it does. */
  readonly where?: string;
}

/** Why a constraint's text does not parse, and where in it (0-based column). */
export class ConstraintSyntaxError extends Error {
  constructor(
    message: string,
    readonly column: number,
  ) {
    super(message);
    this.name = "ConstraintSyntaxError";
  }
}

const VALUE = /^\s*([A-Za-z_][\w-]*)\.([\w-]+(?:\.[\w-]+)*)\s*/;
const OPERATOR = /^(<=|>=|<|>)\s*/;
const NUMBER = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?/;
const REFERENCE = /^reference\s*/;
/** `+ d` or `- d` after `reference`. */
const OFFSET = /^([+-])\s*((?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*$/;

export function parseConstraint(text: string): Constraint {
  let rest = text;
  const at = () => text.length - rest.length;
  const value = VALUE.exec(rest);
  if (!value) {
    throw new ConstraintSyntaxError(
      "expected `<metric>.<value>` first, e.g. `fidelity.top1`",
      at() + (rest.length - rest.trimStart().length),
    );
  }
  rest = rest.slice(value[0].length);
  const operator = OPERATOR.exec(rest);
  if (!operator) {
    const found = /^(==?|!=|=<|=>)/.exec(rest)?.[0];
    throw new ConstraintSyntaxError(
      found
        ? `"${found}" is not a comparison here: use <, <=, > or >=`
        : `expected a comparison (<, <=, > or >=) after ${value[1]}.${value[2]}`,
      at(),
    );
  }
  rest = rest.slice(operator[0].length);
  let bound = 1;
  let relative = false;
  let offset = 0;
  const reference = () => {
    const word = REFERENCE.exec(rest);
    if (!word) return false;
    rest = rest.slice(word[0].length);
    relative = true;
    if (rest.trim() === "") return true;
    const plus = OFFSET.exec(rest);
    if (!plus) {
      throw new ConstraintSyntaxError(
        `unexpected "${rest.trim()}" after reference (write \`reference + 0.02\` or \`reference - 0.02\` for an allowance)`,
        at(),
      );
    }
    offset = (plus[1] === "-" ? -1 : 1) * Number(plus[2]);
    rest = "";
    return true;
  };
  if (!reference()) {
    const number = NUMBER.exec(rest);
    if (!number) {
      throw new ConstraintSyntaxError(
        "expected a number, `reference` or `<number> * reference` after the comparison",
        at(),
      );
    }
    bound = Number(number[0]);
    rest = rest.slice(number[0].length);
    const times = /^\s*\*\s*/.exec(rest);
    if (times) {
      rest = rest.slice(times[0].length);
      if (!reference()) {
        throw new ConstraintSyntaxError("only `reference` may follow `*`", at());
      }
    } else if (rest.trim() !== "") {
      throw new ConstraintSyntaxError(
        `unexpected "${rest.trim()}" after the number (write \`${bound} * reference\` for a bound relative to the input model)`,
        at() + (rest.length - rest.trimStart().length),
      );
    }
  }
  return {
    text,
    metric: value[1]!,
    key: value[2]!,
    op: operator[1] as Comparison,
    bound,
    relative,
    offset,
  };
}

/** Metric name → value key → number, as one model measured. */
export type MetricValues = Readonly<Record<string, Readonly<Record<string, number>>>>;

export interface ConstraintCheck {
  readonly constraint: string;
  readonly passed: boolean;
  /** The candidate's value (absent when it was not measured). */
  readonly value?: number;
  /** The bound it was compared with (absent when it could not be computed). */
  readonly limit?: number;
  /** One sentence saying why, for the report and the results table. */
  readonly reason: string;
  /** For a constraint that could not be judged: where the recipe lists it. */
  readonly where?: string;
}

export interface Verdict {
  readonly accepted: boolean;
  readonly checks: readonly ConstraintCheck[];
}

/** Checks every constraint on a candidate's values; `reference` gives the input model's. */
export function judge(
  constraints: readonly Constraint[],
  values: MetricValues,
  reference: MetricValues | undefined,
): Verdict {
  const checks = constraints.map((c) => check(c, values, reference));
  return { accepted: checks.every((c) => c.passed), checks };
}

function check(
  c: Constraint,
  values: MetricValues,
  reference: MetricValues | undefined,
): ConstraintCheck {
  const name = `${c.metric}.${c.key}`;
  const value = values[c.metric]?.[c.key];
  const at = c.where === undefined ? {} : { where: c.where };
  if (value === undefined) {
    return { constraint: c.text, passed: false, reason: `${name} was not measured`, ...at };
  }
  let limit = c.bound;
  let base: number | undefined;
  if (c.relative) {
    base = reference?.[c.metric]?.[c.key];
    if (base === undefined) {
      return {
        constraint: c.text,
        passed: false,
        value,
        reason: `${name} was not measured on the reference, so "${c.text}" has no bound`,
        ...at,
      };
    }
    limit = c.bound * base + c.offset;
  }
  const passed = compare(value, c.op, limit);
  const allowance = c.offset === 0 ? "" : ` ${c.offset > 0 ? "+" : "−"} ${fmt(Math.abs(c.offset))}`;
  const shown =
    base === undefined
      ? fmt(limit)
      : `${fmt(limit)} (${c.bound === 1 ? "" : `${fmt(c.bound)} × `}reference ${fmt(base)}${allowance})`;
  const reason = Number.isNaN(value)
    ? `${name} is NaN`
    : `${name} = ${fmt(value)} ${passed ? "" : "not "}${c.op} ${shown}`;
  return { constraint: c.text, passed, value, limit, reason };
}

export function compare(value: number, op: Comparison, limit: number): boolean {
  switch (op) {
    case "<":
      return value < limit;
    case "<=":
      return value <= limit;
    case ">":
      return value > limit;
    case ">=":
      return value >= limit;
  }
}

/** Four significant digits: enough to see why a check failed, short enough for a table. */
export function fmt(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (value !== 0 && (Math.abs(value) >= 1e6 || Math.abs(value) < 1e-3)) {
    return value.toExponential(3);
  }
  return String(Number(value.toPrecision(4)));
}
