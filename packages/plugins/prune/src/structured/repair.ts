import { constantOf, DataType, type Node, Tensor, type Value } from "@lathe/core";
import { type Entry, evaluateInput, sliceBounds, type World } from "./shape-eval.js";
import type { ExpectedEntry, Removal, UnitGroup } from "./trace.js";

/** Replaced constant operands: node → input index → its new tensor. */
export type Edits = Map<Node, Map<number, Tensor>>;

/**
 * Plans the constant edits that make every shape operand of the group take the values the
 * removal needs: the head count in a Reshape's Concat, the divisor of `dim // heads`, a Split's
 * sizes. It evaluates each operand after the removal, and where an entry is wrong, walks down
 * its computation to a constant it can change (through Concat, Gather, Unsqueeze, Cast and
 * +, −, ×, ÷ with the other side evaluated). Returns the edits, or why the group cannot be
 * rewritten (a value computed at run time in the way, a computation shared with other layers).
 */
export function planShapeRepairs(group: UnitGroup, removal: Removal): Edits | string {
  const edits: Edits = new Map();
  const world = worldOf(group, removal, edits);
  for (const operand of group.shapeOperands) {
    const expected = operand.expect(removal);
    const current = evaluateInput(operand.node, operand.input, world);
    if (!current || current.length !== expected.length)
      return `${operand.node.opType} "${operand.node.name}": its shape operand cannot be evaluated`;
    for (let i = 0; i < expected.length; i++) {
      const want = expected[i] as ExpectedEntry;
      if (satisfied(current[i], want)) continue;
      const target = want.value;
      if (typeof target !== "number")
        return `${operand.node.opType} "${operand.node.name}": entry ${i} would change a symbolic dim`;
      if (!require(operand.node, operand.input, i, target, edits, world))
        return `${operand.node.opType} "${operand.node.name}": no constant encodes entry ${i} (a Reshape it cannot prove it may change)`;
    }
  }
  // every operand at once: an edit made for one must not break another
  for (const operand of group.shapeOperands) {
    const expected = operand.expect(removal);
    const current = evaluateInput(operand.node, operand.input, world);
    if (!current?.every((e, i) => satisfied(e, expected[i] as ExpectedEntry)))
      return `${operand.node.opType} "${operand.node.name}": shape operands need conflicting edits`;
  }
  const shared = sharedEdit(group, edits);
  if (shared) return shared;
  return edits;
}

/** The removal's world: tracked values at their new sizes, the planned edits applied. */
export function worldOf(group: UnitGroup, removal: Removal, edits: Edits): World {
  return {
    edits,
    size: (value, axis) => {
      const t = group.tracked.get(value);
      return t && t.axis === axis ? removal.size(t) : undefined;
    },
  };
}

function satisfied(entry: Entry | undefined, want: ExpectedEntry): boolean {
  if (entry === undefined) return false;
  if (want.kind === "at-least") return typeof entry === "number" && entry >= want.value;
  return entry === want.value;
}

/** Makes element `index` of operand `input` of `node` equal `target` by editing constants. */
function require(
  node: Node,
  input: number,
  index: number,
  target: number,
  edits: Edits,
  world: World,
  depth = 0,
): boolean {
  if (depth > 12) return false;
  const current = evaluateInput(node, input, world);
  if (current && pick(current, index) === target) return true;
  const edited = edits.get(node)?.get(input);
  const value = node.inputs[input];
  const tensor = edited ?? constantOf(value);
  if (tensor)
    return setElement(edits, node, input, tensor, current?.length === 1 ? 0 : index, target);
  const producer = value?.producer();
  if (!producer || (producer.domain !== "" && producer.domain !== "ai.onnx")) return false;
  const at = (i: number) => evaluateInput(producer, i, world);
  const attempt = (i: number, j: number, t: number): boolean => {
    if (!Number.isInteger(t)) return false;
    const snapshot = cloneEdits(edits);
    if (require(producer, i, j, t, edits, world, depth + 1)) return true;
    restore(edits, snapshot);
    return false;
  };
  const scalarIndex = (i: number) => ((at(i)?.length ?? 0) === 1 ? 0 : index);
  switch (producer.opType) {
    case "Identity":
    case "Cast":
    case "Squeeze":
    case "Unsqueeze":
    case "Reshape":
    case "Flatten":
      return attempt(0, index, target);
    case "Concat": {
      let offset = 0;
      for (let i = 0; i < producer.inputs.length; i++) {
        const length = at(i)?.length;
        if (length === undefined) return false;
        if (index < offset + length) return attempt(i, index - offset, target);
        offset += length;
      }
      return false;
    }
    case "Gather": {
      const indices = at(1);
      const data = at(0);
      const k = indices?.[index];
      if (typeof k !== "number" || !data) return false;
      return attempt(0, k < 0 ? k + data.length : k, target);
    }
    case "Slice": {
      const data = at(0);
      const bounds = sliceBounds(producer, at, data?.length);
      const k = bounds?.[index];
      return k !== undefined && attempt(0, k, target);
    }
    case "Where": {
      const cond = at(0);
      const c = cond && pick(cond, index);
      if (typeof c !== "number") return false;
      return attempt(c ? 1 : 2, scalarIndex(c ? 1 : 2), target);
    }
    case "Mul":
    case "Div":
    case "Add":
    case "Sub": {
      const a = at(0);
      const b = at(1);
      const x = a && pick(a, index);
      const y = b && pick(b, index);
      const op = producer.opType;
      // change the right operand first (`size * heads`, `dim // heads`), then the left
      if (typeof x === "number") {
        const t =
          op === "Mul"
            ? target / x
            : op === "Div"
              ? x / target
              : op === "Add"
                ? target - x
                : x - target;
        if (attempt(1, scalarIndex(1), t)) return true;
      }
      if (typeof y === "number") {
        const t =
          op === "Mul"
            ? target / y
            : op === "Div"
              ? target * y
              : op === "Add"
                ? target - y
                : target + y;
        if (attempt(0, scalarIndex(0), t)) return true;
      }
      return false;
    }
    default:
      return false;
  }
}

function setElement(
  edits: Edits,
  node: Node,
  input: number,
  tensor: Tensor,
  index: number,
  target: number,
): boolean {
  if (tensor.dataType !== DataType.INT64 && tensor.dataType !== DataType.INT32) return false;
  const values = Array.from(tensor.toArray() as ArrayLike<number | bigint>, Number);
  if (index >= values.length) return false;
  values[index] = target;
  const next = Tensor.fromArray(
    tensor.dataType,
    tensor.dims,
    tensor.dataType === DataType.INT64 ? values.map(BigInt) : values,
  );
  let perNode = edits.get(node);
  if (!perNode) {
    perNode = new Map();
    edits.set(node, perNode);
  }
  perNode.set(input, next);
  return true;
}

/**
 * An edit below a node whose result other nodes read too (a Concat the exporter shares) would
 * change them as well: allowed only when every reader downstream is one of the group's shape
 * operands.
 */
function sharedEdit(group: UnitGroup, edits: Edits): string | undefined {
  const isOperand = (node: Node, input: number) =>
    group.shapeOperands.some((o) => o.node === node && o.input === input);
  for (const node of edits.keys()) {
    const stack: { node: Node; input: number }[] = [];
    const start = [...edits.get(node)!.keys()];
    for (const input of start) stack.push({ node, input });
    const seen = new Set<Node>();
    while (stack.length > 0) {
      const { node: n, input } = stack.pop()!;
      if (isOperand(n, input)) continue;
      if (seen.has(n)) continue;
      seen.add(n);
      if (!SHAPE_ARITHMETIC.has(n.opType))
        return `a shape computation shared with ${n.opType} "${n.name}" would change`;
      for (const out of n.outputs) {
        if (out.uses().length === 0) return `a changed shape computation reaches "${out.name}"`;
        for (const use of out.uses()) stack.push({ node: use.node, input: use.index });
      }
    }
  }
  return undefined;
}

const SHAPE_ARITHMETIC = new Set([
  "Identity",
  "Cast",
  "Squeeze",
  "Unsqueeze",
  "Reshape",
  "Concat",
  "Gather",
  "Slice",
  "Where",
  "Equal",
  "Mul",
  "Div",
  "Add",
  "Sub",
  "ConstantOfShape",
  "Shape",
  "Not",
  "Neg",
  "Less",
  "Greater",
  "LessOrEqual",
  "GreaterOrEqual",
  "And",
  "Or",
  "Xor",
  "Mod",
  "Max",
  "Min",
]);

function pick(list: readonly Entry[], i: number): Entry | undefined {
  return list.length === 1 ? list[0] : list[i];
}

function cloneEdits(edits: Edits): Edits {
  return new Map([...edits].map(([n, m]) => [n, new Map(m)]));
}

function restore(edits: Edits, snapshot: Edits): void {
  edits.clear();
  for (const [n, m] of snapshot) edits.set(n, m);
}

export type { Value };
