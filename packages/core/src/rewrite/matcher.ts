import { type Attribute, AttributeType, isAttributeRef } from "../ir/attribute.js";
import type { Node } from "../ir/node.js";
import type { Tensor } from "../ir/tensor.js";
import type { Value } from "../ir/value.js";
import { constantOf } from "./constants.js";
import type { OpPattern, Pattern } from "./pattern.js";

/** What a pattern bound: values, nodes and constants by name, and every node it covered. */
export interface Match {
  /** The value the pattern's root matched. */
  readonly root: Value;
  readonly values: ReadonlyMap<string, Value>;
  readonly nodes: ReadonlyMap<string, Node>;
  readonly constants: ReadonlyMap<string, Tensor>;
  /** Nodes the pattern covered whose outputs must not be read outside the match. */
  readonly internal: ReadonlySet<Node>;
  /** Covered nodes that may stay (shared ops, `Constant` nodes). */
  readonly shared: ReadonlySet<Node>;
  /** A value by capture name; throws when the pattern did not bind it. */
  value(name: string): Value;
  node(name: string): Node;
  constant(name: string): Tensor;
}

/** Why the match failed, at the deepest point reached (the most telling reason). */
export interface MatchFailure {
  readonly depth: number;
  readonly reason: string;
}

interface State {
  values: Map<string, Value>;
  nodes: Map<string, Node>;
  constants: Map<string, Tensor>;
  internal: Set<Node>;
  shared: Set<Node>;
}

/** Matches `pattern` against `value`: a Match, or the deepest failure. */
export function matchPattern(pattern: Pattern, value: Value): Match | MatchFailure {
  const failure = { depth: -1, reason: "no match" };
  const state: State = {
    values: new Map(),
    nodes: new Map(),
    constants: new Map(),
    internal: new Set(),
    shared: new Set(),
  };
  const fail = (depth: number, reason: string): false => {
    if (depth >= failure.depth) {
      failure.depth = depth;
      failure.reason = reason;
    }
    return false;
  };
  if (!matchValue(pattern, value, state, 0, fail)) return failure;
  return toMatch(value, state);
}

export function isMatch(result: Match | MatchFailure): result is Match {
  return "root" in result;
}

type Fail = (depth: number, reason: string) => false;

function clone(s: State): State {
  return {
    values: new Map(s.values),
    nodes: new Map(s.nodes),
    constants: new Map(s.constants),
    internal: new Set(s.internal),
    shared: new Set(s.shared),
  };
}

function adopt(target: State, source: State): void {
  target.values = source.values;
  target.nodes = source.nodes;
  target.constants = source.constants;
  target.internal = source.internal;
  target.shared = source.shared;
}

function describe(value: Value): string {
  const producer = value.producer();
  if (producer) return `${producer.qualifiedOp} "${producer.name}"`;
  return value.isConstant ? `initializer "${value.name}"` : `graph input "${value.name}"`;
}

function matchValue(
  pattern: Pattern,
  value: Value | undefined,
  state: State,
  depth: number,
  fail: Fail,
): boolean {
  switch (pattern.kind) {
    case "var": {
      if (!value) return fail(depth, `expected a value for "${pattern.name || "_"}", found none`);
      if (pattern.name) {
        const bound = state.values.get(pattern.name);
        if (bound && bound !== value)
          return fail(depth, `"${pattern.name}" must be the same value in both places`);
        const reason = pattern.where?.(value);
        if (reason) return fail(depth, reason);
        state.values.set(pattern.name, value);
      }
      return true;
    }
    case "const": {
      const tensor = constantOf(value);
      if (!value || !tensor)
        return fail(
          depth,
          `expected a constant${pattern.name ? ` "${pattern.name}"` : ""}, found ${value ? describe(value) : "none"}`,
        );
      const reason = pattern.where?.(tensor);
      if (reason) return fail(depth, reason);
      if (pattern.name) {
        state.constants.set(pattern.name, tensor);
        state.values.set(pattern.name, value);
      }
      const producer = value.producer();
      if (producer) state.shared.add(producer);
      return true;
    }
    case "anyOf": {
      for (const alternative of pattern.alternatives) {
        const trial = clone(state);
        if (matchValue(alternative, value, trial, depth, fail)) {
          adopt(state, trial);
          return true;
        }
      }
      return false;
    }
    case "optional": {
      const trial = clone(state);
      if (matchValue(pattern.op, value, trial, depth, fail)) {
        adopt(state, trial);
        return true;
      }
      return matchValue(pattern.op.inputs![0]!, value, state, depth, fail);
    }
    case "op":
      return matchOp(pattern, value, state, depth, fail);
  }
}

function matchOp(
  pattern: OpPattern,
  value: Value | undefined,
  state: State,
  depth: number,
  fail: Fail,
): boolean {
  const node = value?.producer();
  if (!value || !node) {
    return fail(depth, `expected ${pattern.opType}, found ${value ? describe(value) : "no input"}`);
  }
  if (node.opType !== pattern.opType || node.domain !== pattern.domain) {
    return fail(depth, `expected ${pattern.opType}, found ${describe(value)}`);
  }
  if (value.outputIndex !== pattern.outputIndex) {
    return fail(depth, `expected output ${pattern.outputIndex} of ${describe(value)}`);
  }
  // the op matched: a failure on its attributes got further than another alternative's op
  // mismatch at this depth, and is the more telling reason
  const matchedOp = depth + 0.5;
  for (const [name, expected] of Object.entries(pattern.attributes)) {
    const actual = attributeJs(node.attributes.get(name));
    const ok = typeof expected === "function" ? expected(actual) : sameValue(actual, expected);
    if (!ok) {
      return fail(
        matchedOp,
        `${describe(value)}: attribute ${name} is ${JSON.stringify(actual)}, expected ${typeof expected === "function" ? "another value" : JSON.stringify(expected)}`,
      );
    }
  }
  const reason = pattern.where?.(node);
  if (reason) return fail(matchedOp, `${describe(value)}: ${reason}`);
  if (pattern.capture) {
    const bound = state.nodes.get(pattern.capture);
    if (bound && bound !== node) return fail(depth, `"${pattern.capture}" bound twice`);
    state.nodes.set(pattern.capture, node);
  }
  (pattern.shared ? state.shared : state.internal).add(node);
  const inputs = pattern.inputs;
  if (!inputs) return true;
  const actual = trimmed(node.inputs);
  if (actual.length !== inputs.length) {
    return fail(depth, `${describe(value)} has ${actual.length} inputs, expected ${inputs.length}`);
  }
  const orders =
    pattern.commutative && inputs.length === 2
      ? [
          [0, 1],
          [1, 0],
        ]
      : [inputs.map((_, i) => i)];
  for (const order of orders) {
    const trial = clone(state);
    if (order.every((from, i) => matchValue(inputs[i]!, actual[from], trial, depth + 1, fail))) {
      adopt(state, trial);
      return true;
    }
  }
  return false;
}

function trimmed(inputs: readonly (Value | undefined)[]): (Value | undefined)[] {
  const out = [...inputs];
  while (out.length > 0 && out[out.length - 1] === undefined) out.pop();
  return out;
}

/** An attribute's value as plain JS (numbers for ints) for comparison with a pattern literal. */
function attributeJs(a: ReturnType<Node["attributes"]["get"]>): unknown {
  if (!a || isAttributeRef(a)) return undefined;
  const attribute = a as Attribute;
  switch (attribute.type) {
    case AttributeType.INT:
      return Number(attribute.value);
    case AttributeType.INTS:
      return attribute.value.map(Number);
    case AttributeType.STRING:
      return typeof attribute.value === "string"
        ? attribute.value
        : new TextDecoder().decode(attribute.value);
    default:
      return attribute.value;
  }
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  return a === b;
}

function toMatch(root: Value, s: State): Match {
  const get = <T>(map: Map<string, T>, kind: string, name: string): T => {
    const found = map.get(name);
    if (found === undefined) throw new Error(`the match has no ${kind} "${name}"`);
    return found;
  };
  return {
    root,
    values: s.values,
    nodes: s.nodes,
    constants: s.constants,
    internal: s.internal,
    shared: s.shared,
    value: (name) => get(s.values, "value", name),
    node: (name) => get(s.nodes, "node", name),
    constant: (name) => get(s.constants, "constant", name),
  };
}
