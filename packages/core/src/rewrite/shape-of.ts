import type { Builder } from "../ir/builder.js";
import type { Node } from "../ir/node.js";
import type { Value } from "../ir/value.js";
import { constantNumbers, constantOf } from "./constants.js";
import { fusedMatMulAttributes, fusedMatMulPermutation } from "./fused-matmul.js";

/**
 * Shapes of values a rewrite removes, computed from values that stay. A consumer that reads
 * only a value's shape (`Shape`, `Size`) need not keep the value alive: its shape is rebuilt
 * from the shapes of the inputs (`Shape(q)`, `Shape(k)` for the scores `q·kᵀ`) with a handful of
 * int64 ops, so the heavy computation can go.
 *
 * A plan is checked before the rewrite (`planShape` returns a reason when it cannot be built)
 * and emitted after it.
 */
export type ShapePlan = (b: Builder) => Value;

/** Ops whose output has the shape of their first input. */
// biome-ignore format: a list of names
const SAME_SHAPE = new Set([
  "Abs", "Cast", "CastLike", "Ceil", "Dropout", "Elu", "Erf", "Exp", "Floor", "Gelu",
  "HardSigmoid", "Identity", "IsInf", "IsNaN", "LeakyRelu", "Log", "LogSoftmax", "Neg", "Not",
  "Reciprocal", "Relu", "Round", "Sigmoid", "Sign", "Sin", "Cos", "Softmax", "Softplus", "Sqrt",
  "Tanh", "Trilu",
]);

/** Elementwise ops with multidirectional (numpy) broadcasting. */
// biome-ignore format: a list of names
const BROADCAST = new Set([
  "Add", "And", "BitShift", "Div", "Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual",
  "Max", "Min", "Mod", "Mul", "Or", "Pow", "PRelu", "Sub", "Where", "Xor",
]);

/**
 * How to compute `value`'s shape (a 1-D int64 tensor) from values for which `stays` holds, or
 * why it cannot be. The output's rank must be known statically (value types, constants, or
 * the ops' rank rules).
 */
export function planShape(value: Value, stays: (v: Value) => boolean): ShapePlan | string {
  if (stays(value)) return (b) => b.Shape(value);
  const node = value.producer();
  const where = node ? `${node.opType} "${node.name}"` : `"${value.name}"`;
  if (node && isFusedMatMul(node) && value.outputIndex === 0)
    return productPlan(node, stays, where);
  if (node?.domain !== "" || value.outputIndex !== 0)
    return `the shape of "${value.name}" (from ${where}) cannot be computed from what stays`;
  const input = (i: number) => node.inputs[i];
  if (SAME_SHAPE.has(node.opType)) return planShape(input(0)!, stays);
  if (BROADCAST.has(node.opType)) return broadcastPlan(node.inputs, stays, where);
  switch (node.opType) {
    case "Transpose": {
      const rank = staticRank(input(0));
      if (rank === undefined) return `the rank of the input of ${where} is unknown`;
      const perm = node.getInts("perm", [...Array(rank).keys()].reverse());
      const inner = planShape(input(0)!, stays);
      if (typeof inner === "string") return inner;
      return (b) => b.Gather(inner(b), b.int64s(perm), { axis: 0 });
    }
    case "MatMul":
      return productPlan(node, stays, where);
    default:
      return `the shape of "${value.name}" (from ${where}) cannot be computed from what stays`;
  }
}

/** ONNX Runtime's com.microsoft FusedMatMul: a MatMul of permuted operands (fused-matmul.ts). */
function isFusedMatMul(node: Node): boolean {
  return node.opType === "FusedMatMul" && node.domain === "com.microsoft";
}

/** MatMul's shape, or FusedMatMul's: each operand's shape permuted as the op transposes it. */
function productPlan(node: Node, stays: (v: Value) => boolean, where: string): ShapePlan | string {
  const [ra, rb] = [staticRank(node.inputs[0]), staticRank(node.inputs[1])];
  if (ra === undefined || rb === undefined || ra < 2 || rb < 2)
    return `the ranks of the inputs of ${where} are unknown or below 2`;
  const fused = isFusedMatMul(node) ? fusedMatMulAttributes(node) : undefined;
  const operand = (i: number, rank: number, trans = false, transBatch = false) => {
    const plan = planShape(node.inputs[i]!, stays);
    const perm = fusedMatMulPermutation(rank, trans, transBatch);
    if (typeof plan === "string" || perm.every((p, axis) => p === axis)) return plan;
    return (b: Builder) => b.Gather(plan(b), b.int64s(perm), { axis: 0 });
  };
  const a = operand(0, ra, fused?.transA, fused?.transBatchA);
  const bPlan = operand(1, rb, fused?.transB, fused?.transBatchB);
  if (typeof a === "string") return a;
  if (typeof bPlan === "string") return bPlan;
  const rank = Math.max(ra, rb);
  return (b) => {
    const sa = a(b);
    const sb = bPlan(b);
    const batch = broadcastShapes(b, [
      { shape: b.Slice(sa, b.int64s([0]), b.int64s([-2])), rank: ra - 2 },
      { shape: b.Slice(sb, b.int64s([0]), b.int64s([-2])), rank: rb - 2 },
    ]);
    const rows = b.Slice(sa, b.int64s([-2]), b.int64s([-1]));
    const cols = b.Slice(sb, b.int64s([-1]), b.int64s([rb]));
    return rank === 2
      ? b.Concat(rows, cols, { axis: 0 })
      : b.Concat(batch!, rows, cols, { axis: 0 });
  };
}

function broadcastPlan(
  inputs: readonly (Value | undefined)[],
  stays: (v: Value) => boolean,
  where: string,
): ShapePlan | string {
  const operands: { plan: ShapePlan; rank: number }[] = [];
  for (const input of inputs) {
    if (!input) continue;
    const rank = staticRank(input);
    if (rank === undefined) return `the rank of "${input.name}" (an input of ${where}) is unknown`;
    // a one-element constant of rank 0 never changes a broadcast shape
    if (rank === 0) continue;
    const plan = planShape(input, stays);
    if (typeof plan === "string") return plan;
    operands.push({ plan, rank });
  }
  if (operands.length === 0) return (b) => b.int64s([]);
  return (b) =>
    broadcastShapes(
      b,
      operands.map((o) => ({ shape: o.plan(b), rank: o.rank })),
    )!;
}

/**
 * The numpy broadcast of shapes of known ranks: each padded with leading 1s to the largest
 * rank, then per axis `a == 1 ? b : a` (exact for compatible shapes, 0-sized axes included).
 */
function broadcastShapes(
  b: Builder,
  shapes: readonly { shape: Value; rank: number }[],
): Value | undefined {
  const rank = Math.max(0, ...shapes.map((s) => s.rank));
  if (rank === 0) return shapes.length > 0 ? b.int64s([]) : undefined;
  let result: Value | undefined;
  for (const { shape, rank: r } of shapes) {
    if (r === 0) continue;
    const padded =
      r < rank ? b.Concat(b.int64s(Array(rank - r).fill(1)), shape, { axis: 0 }) : shape;
    result = result
      ? b.Where(b.Equal(result, b.int64s(Array(rank).fill(1))), padded, result)
      : padded;
  }
  return result ?? b.int64s(Array(rank).fill(1));
}

/**
 * A value's rank when it is known without running the model: its type, a constant, or the
 * rank rules of the ops exporters use to compute shapes and attention scores.
 */
export function staticRank(value: Value | undefined, depth = 0): number | undefined {
  if (!value || depth > 32) return undefined;
  const type = value.type;
  if (type?.kind === "tensor" && type.shape) return type.shape.dims.length;
  const constant = constantOf(value);
  if (constant) return constant.dims.length;
  const node = value.producer();
  if (node && isFusedMatMul(node)) {
    const [a, b] = [staticRank(node.inputs[0], depth + 1), staticRank(node.inputs[1], depth + 1)];
    return a === undefined || b === undefined || a < 2 || b < 2 ? undefined : Math.max(a, b);
  }
  if (node?.domain !== "" || value.outputIndex !== 0) return undefined;
  const rank = (i: number) => staticRank(node.inputs[i], depth + 1);
  if (SAME_SHAPE.has(node.opType)) return rank(0);
  if (BROADCAST.has(node.opType)) {
    const ranks = node.inputs.map((input) => staticRank(input, depth + 1));
    return ranks.some((r) => r === undefined) ? undefined : Math.max(...(ranks as number[]));
  }
  switch (node.opType) {
    case "Shape":
      return 1;
    case "Size":
      return 0;
    case "Transpose":
    case "Slice":
    case "Concat":
      return rank(0);
    case "MatMul": {
      const [a, b] = [rank(0), rank(1)];
      return a === undefined || b === undefined || a < 2 || b < 2 ? undefined : Math.max(a, b);
    }
    case "Gather": {
      const [data, indices] = [rank(0), rank(1)];
      return data === undefined || indices === undefined ? undefined : data - 1 + indices;
    }
    case "Unsqueeze":
    case "Squeeze": {
      const axes = axesOf(node);
      const r = rank(0);
      if (r === undefined || axes === undefined) return undefined;
      return node.opType === "Unsqueeze" ? r + axes.length : r - axes.length;
    }
    case "Reshape":
    case "ConstantOfShape":
      return staticLength(node.inputs[node.opType === "Reshape" ? 1 : 0], depth + 1);
    case "Expand": {
      const [r, length] = [rank(0), staticLength(node.inputs[1], depth + 1)];
      return r === undefined || length === undefined ? undefined : Math.max(r, length);
    }
    default:
      return undefined;
  }
}

/** The element count of a 1-D value (a shape vector), when known statically. */
function staticLength(value: Value | undefined, depth: number): number | undefined {
  const numbers = constantNumbers(value);
  if (numbers) return numbers.length;
  const node = value?.producer();
  if (node?.domain !== "" || depth > 32) return undefined;
  switch (node.opType) {
    case "Shape": {
      const rank = staticRank(node.inputs[0], depth + 1);
      if (rank === undefined) return undefined;
      const clamp = (i: number) => Math.min(rank, Math.max(0, i < 0 ? i + rank : i));
      return Math.max(0, clamp(node.getInt("end", rank)) - clamp(node.getInt("start", 0)));
    }
    case "Concat": {
      let total = 0;
      for (const input of node.inputs) {
        const length = staticLength(input, depth + 1);
        if (length === undefined) return undefined;
        total += length;
      }
      return total;
    }
    case "Unsqueeze":
      return staticRank(node.inputs[0], depth + 1) === 0 ? 1 : undefined;
    case "Cast":
    case "Identity":
      return staticLength(node.inputs[0], depth + 1);
    default:
      return undefined;
  }
}

/** Squeeze/Unsqueeze axes from the attribute (opset < 13) or the constant input. */
function axesOf(node: Node): number[] | undefined {
  if (node.attributes.has("axes")) return node.getInts("axes", []);
  return node.inputs[1] ? constantNumbers(node.inputs[1]) : undefined;
}
