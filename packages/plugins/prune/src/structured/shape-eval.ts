import { constantOf, type Node, type Tensor, type Value } from "@lathe/core";

/** An element of a shape computation: a number, or a symbolic expression (`batch`, `(seq*4)`). */
export type Entry = number | string;

/**
 * The world a shape computation is evaluated in: the model as it is (no argument), or after
 * a removal: tracked values have new sizes on their units' axis, and some constant operands
 * are replaced (the repairs being planned).
 */
export interface World {
  /** The new size of `value`'s `axis`, when the removal changes it. */
  readonly size?: (value: Value, axis: number) => number | undefined;
  /** Replaced constant operands: node → input index → tensor. */
  readonly edits?: ReadonlyMap<Node, ReadonlyMap<number, Tensor>>;
}

/**
 * The elements of a small integer tensor computed from shapes and constants (Shape, Gather,
 * Slice, Concat, Unsqueeze, arithmetic, Where/Equal, ConstantOfShape …), by the rules ONNX
 * gives them; symbolic dims stay symbolic. Undefined when an op is outside this vocabulary or
 * a rank is unknown.
 */
export function evaluate(value: Value | undefined, world: World = {}): Entry[] | undefined {
  return new Evaluator(world).value(value);
}

/** Evaluates operand `input` of `node` (an edited operand reads its replacement). */
export function evaluateInput(node: Node, input: number, world: World = {}): Entry[] | undefined {
  return new Evaluator(world).input(node, input);
}

const MAX_ELEMENTS = 64;

class Evaluator {
  readonly #memo = new Map<Value, Entry[] | undefined>();
  readonly #world: World;

  constructor(world: World) {
    this.#world = world;
  }

  input(node: Node, i: number): Entry[] | undefined {
    const edited = this.#world.edits?.get(node)?.get(i);
    if (edited) return numbers(edited);
    return this.value(node.inputs[i]);
  }

  value(value: Value | undefined): Entry[] | undefined {
    if (!value) return undefined;
    if (this.#memo.has(value)) return this.#memo.get(value);
    this.#memo.set(value, undefined); // cycles cannot occur in a valid graph; guards anyway
    const result = this.#compute(value);
    this.#memo.set(value, result);
    return result;
  }

  #compute(value: Value): Entry[] | undefined {
    const tensor = constantOf(value);
    if (tensor) return tensor.elementCount <= MAX_ELEMENTS ? numbers(tensor) : undefined;
    const node = value.producer();
    if (!node || (node.domain !== "" && node.domain !== "ai.onnx")) return undefined;
    const at = (i: number) => this.input(node, i);
    switch (node.opType) {
      case "Shape": {
        const dims = this.#dims(node.inputs[0]);
        if (!dims) return undefined;
        const rank = dims.length;
        const clamp = (x: number) => Math.min(Math.max(x < 0 ? x + rank : x, 0), rank);
        return dims.slice(clamp(node.getInt("start", 0)), clamp(node.getInt("end", rank)));
      }
      case "Size": {
        const dims = this.#dims(node.inputs[0]);
        return dims ? [dims.reduce<Entry>((a, b) => arithmetic("Mul", a, b), 1)] : undefined;
      }
      case "Identity":
      case "Cast":
      case "Squeeze":
      case "Unsqueeze":
      case "Reshape":
      case "Flatten":
        return at(0);
      case "Concat": {
        const parts = node.inputs.map((_, i) => at(i));
        return parts.every((p) => p) ? (parts.flat() as Entry[]) : undefined;
      }
      case "Gather": {
        const data = at(0);
        const indices = at(1);
        if (!data || !indices || node.getInt("axis", 0) !== 0) return undefined;
        const out: Entry[] = [];
        for (const i of indices) {
          if (typeof i !== "number") return undefined;
          const e = data[i < 0 ? i + data.length : i];
          if (e === undefined) return undefined;
          out.push(e);
        }
        return out;
      }
      case "Slice": {
        const data = at(0);
        const bounds = sliceBounds(node, at, data?.length);
        return data && bounds ? bounds.map((i) => data[i] as Entry) : undefined;
      }
      case "ConstantOfShape": {
        const shape = at(0);
        if (!shape || shape.some((s) => typeof s !== "number")) return undefined;
        const count = (shape as number[]).reduce((a, b) => a * b, 1);
        const fill = node.attribute("value")?.value as Tensor | undefined;
        const v = fill ? (numbers(fill)[0] ?? 0) : 0;
        return count <= MAX_ELEMENTS ? Array.from({ length: count }, () => v) : undefined;
      }
      case "Neg":
        return at(0)?.map((e) => (typeof e === "number" ? -e : `(-${e})`));
      case "Not":
        return at(0)?.map((e) => (typeof e === "number" ? (e ? 0 : 1) : `(!${e})`));
      case "Add":
      case "Sub":
      case "Mul":
      case "Div":
      case "Equal":
      case "Less":
      case "Greater":
      case "LessOrEqual":
      case "GreaterOrEqual":
      case "And":
      case "Or":
      case "Xor":
      case "Mod":
      case "Max":
      case "Min": {
        const a = at(0);
        const b = at(1);
        return a && b ? broadcast(a, b, (x, y) => arithmetic(node.opType, x, y)) : undefined;
      }
      case "Where": {
        const [c, a, b] = [at(0), at(1), at(2)];
        if (!c || !a || !b) return undefined;
        const n = Math.max(c.length, a.length, b.length);
        const out: Entry[] = [];
        for (let i = 0; i < n; i++) {
          const cond = pick(c, i);
          if (typeof cond !== "number") return undefined;
          out.push(cond ? pick(a, i) : pick(b, i));
        }
        return out;
      }
      default:
        return undefined;
    }
  }

  #dims(value: Value | undefined): Entry[] | undefined {
    const type = value?.type;
    const dims = type?.kind === "tensor" ? type.shape?.dims : undefined;
    if (!value || !dims) return undefined;
    return dims.map((d, axis) => {
      const changed = this.#world.size?.(value, axis);
      if (changed !== undefined) return changed;
      return d === null ? `?${value.name}[${axis}]` : d;
    });
  }
}

/** Element indices a 1-D Slice takes. */
export function sliceBounds(
  node: Node,
  at: (i: number) => Entry[] | undefined,
  length: number | undefined,
): number[] | undefined {
  if (length === undefined) return undefined;
  const [starts, ends] = [at(1), at(2)];
  const steps = node.inputs[4] ? at(4) : [1];
  const start = starts?.[0];
  const end = ends?.[0];
  const step = steps?.[0];
  if (
    typeof start !== "number" ||
    typeof end !== "number" ||
    typeof step !== "number" ||
    step === 0
  )
    return undefined;
  const clamp = (x: number, lo: number, hi: number) => Math.min(Math.max(x, lo), hi);
  const norm = (x: number) => (x < 0 ? x + length : x);
  const out: number[] = [];
  if (step > 0) {
    for (let i = clamp(norm(start), 0, length); i < clamp(norm(end), 0, length); i += step)
      out.push(i);
  } else {
    for (
      let i = clamp(norm(start), -1, length - 1);
      i > clamp(norm(end), -1, length - 1);
      i += step
    )
      out.push(i);
  }
  return out;
}

function pick(list: readonly Entry[], i: number): Entry {
  return (list.length === 1 ? list[0] : list[i]) as Entry;
}

function broadcast(
  a: readonly Entry[],
  b: readonly Entry[],
  f: (x: Entry, y: Entry) => Entry,
): Entry[] | undefined {
  if (a.length !== b.length && a.length !== 1 && b.length !== 1) return undefined;
  const n = Math.max(a.length, b.length);
  return Array.from({ length: n }, (_, i) => f(pick(a, i), pick(b, i)));
}

/** Integer arithmetic as ONNX does it on int64 (Div truncates); symbols combine into expressions. */
export function arithmetic(op: string, x: Entry, y: Entry): Entry {
  if (typeof x === "number" && typeof y === "number") {
    switch (op) {
      case "Add":
        return x + y;
      case "Sub":
        return x - y;
      case "Mul":
        return x * y;
      case "Div":
        return Number.isInteger(x) && Number.isInteger(y) ? Math.trunc(x / y) : x / y;
      case "Equal":
        return x === y ? 1 : 0;
      case "Less":
        return x < y ? 1 : 0;
      case "Greater":
        return x > y ? 1 : 0;
      case "LessOrEqual":
        return x <= y ? 1 : 0;
      case "GreaterOrEqual":
        return x >= y ? 1 : 0;
      case "And":
        return x && y ? 1 : 0;
      case "Or":
        return x || y ? 1 : 0;
      case "Xor":
        return (x ? 1 : 0) ^ (y ? 1 : 0);
      case "Mod":
        return x - Math.floor(x / y) * y;
      case "Max":
        return Math.max(x, y);
      case "Min":
        return Math.min(x, y);
    }
  }
  // a dim is never negative: comparing one with a negative number is false
  if (op === "Equal" && ((typeof x === "number" && x < 0) || (typeof y === "number" && y < 0)))
    return 0;
  const symbol =
    { Add: "+", Sub: "-", Mul: "*", Div: "/", Equal: "==", Max: " max ", Min: " min " }[op] ?? op;
  return `(${x}${symbol}${y})`;
}

function numbers(tensor: Tensor): Entry[] {
  return Array.from(tensor.toArray() as ArrayLike<number | bigint>, Number);
}
