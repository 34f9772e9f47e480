import { DataType } from "../ir/dtype.js";
import type { Dim } from "../ir/types.js";
import {
  BOOL,
  INT64,
  type InferContext,
  type Inferred,
  type OpInference,
  tensor,
} from "./context.js";
import { addDims, broadcastShapes, divDims, mulDims, subDims } from "./dims.js";

/** Output 0 has input `i`'s type and shape. */
export const sameAs =
  (i = 0): OpInference =>
  (ctx) => [ctx.input(i)];

/** Output 0 has input 0's shape and a fixed element type. */
export const sameShapeAs =
  (elemType: DataType): OpInference =>
  (ctx) => [tensor(elemType, ctx.dims(0))];

/** Numpy broadcast of every present input; element type of input `typeFrom` or `elemType`. */
export function broadcast(ctx: InferContext, elemType?: DataType, from = 0): Inferred {
  const type = elemType ?? ctx.input(from)?.elemType;
  if (type === undefined) return undefined;
  const shapes: (readonly Dim[])[] = [];
  for (let i = 0; i < ctx.inputCount; i++) {
    if (!ctx.has(i)) continue;
    const dims = ctx.dims(i);
    if (!dims) return tensor(type);
    shapes.push(dims);
  }
  return tensor(type, broadcastShapes(shapes));
}

const arithmetic = (f: (a: Dim, b: Dim) => Dim): OpInference => {
  return (ctx) => {
    propagateBinary(ctx, f);
    return [broadcast(ctx)];
  };
};

/** Shape arithmetic on shape values: `Shape(x)[1] * 2`, `seq + past`. */
function propagateBinary(ctx: InferContext, f: (a: Dim, b: Dim) => Dim): void {
  const a = ctx.values(0);
  const b = ctx.values(1);
  if (!a || !b) return;
  if (a.length !== b.length && a.length !== 1 && b.length !== 1) return;
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) out.push(f(a[a.length === 1 ? 0 : i]!, b[b.length === 1 ? 0 : i]!));
  ctx.setValues(0, out);
}

const UNARY = [
  "Abs",
  "Acos",
  "Acosh",
  "Asin",
  "Asinh",
  "Atan",
  "Atanh",
  "Ceil",
  "Celu",
  "Cos",
  "Cosh",
  "Elu",
  "Erf",
  "Exp",
  "Floor",
  "Gelu",
  "HardSigmoid",
  "HardSwish",
  "Hardmax",
  "LeakyRelu",
  "Log",
  "LogSoftmax",
  "Mish",
  "Neg",
  "Reciprocal",
  "Relu",
  "Round",
  "Selu",
  "Shrink",
  "Sigmoid",
  "Sign",
  "Sin",
  "Sinh",
  "Softmax",
  "Softplus",
  "Softsign",
  "Sqrt",
  "Tan",
  "Tanh",
  "ThresholdedRelu",
  "Clip",
  "LRN",
  "MeanVarianceNormalization",
  "Trilu",
  "CumSum",
  "ReverseSequence",
  "BitwiseNot",
  "Swish",
  "IsNaN",
  "IsInf",
  "Not",
  "Binarizer",
] as const;

export const elementwiseOps: Record<string, OpInference> = {
  ...Object.fromEntries(UNARY.map((op) => [op, sameAs(0)])),
  IsNaN: sameShapeAs(BOOL),
  IsInf: sameShapeAs(BOOL),
  Not: sameShapeAs(BOOL),
  Identity: (ctx) => {
    const v = ctx.values(0);
    if (v) ctx.setValues(0, v);
    const t = ctx.type(0);
    return [t && t.kind !== "tensor" ? { type: t } : ctx.input(0)];
  },
  Add: arithmetic(addDims),
  Sub: arithmetic(subDims),
  Mul: arithmetic(mulDims),
  Div: arithmetic(divDims),
  Pow: (ctx) => [broadcast(ctx)],
  Mod: (ctx) => [broadcast(ctx)],
  BitShift: (ctx) => [broadcast(ctx)],
  BitwiseAnd: (ctx) => [broadcast(ctx)],
  BitwiseOr: (ctx) => [broadcast(ctx)],
  BitwiseXor: (ctx) => [broadcast(ctx)],
  PRelu: sameAs(0), // the slope broadcasts to the input, never the other way
  And: (ctx) => [broadcast(ctx, BOOL)],
  Or: (ctx) => [broadcast(ctx, BOOL)],
  Xor: (ctx) => [broadcast(ctx, BOOL)],
  Equal: (ctx) => [broadcast(ctx, BOOL)],
  Less: (ctx) => [broadcast(ctx, BOOL)],
  LessOrEqual: (ctx) => [broadcast(ctx, BOOL)],
  Greater: (ctx) => [broadcast(ctx, BOOL)],
  GreaterOrEqual: (ctx) => [broadcast(ctx, BOOL)],
  Max: (ctx) => [broadcast(ctx)],
  Min: (ctx) => [broadcast(ctx)],
  Sum: (ctx) => [broadcast(ctx)],
  Mean: (ctx) => [broadcast(ctx)],
  Where: (ctx) => [broadcast(ctx, ctx.input(1)?.elemType ?? ctx.input(2)?.elemType)],
  Cast: (ctx) => {
    const to = ctx.node.getInt("to") as DataType;
    const v = ctx.values(0);
    if (v && (to === INT64 || to === DataType.INT32)) ctx.setValues(0, v);
    return [tensor(to, ctx.dims(0))];
  },
  CastLike: (ctx) => {
    const to = ctx.input(1)?.elemType;
    return [to === undefined ? undefined : tensor(to, ctx.dims(0))];
  },
  Dropout: (ctx) => [ctx.input(0), tensor(BOOL, ctx.dims(0))],
  EyeLike: (ctx) => {
    const dtype = ctx.node.attributes.has("dtype")
      ? (ctx.node.getInt("dtype") as DataType)
      : ctx.input(0)?.elemType;
    return [dtype === undefined ? undefined : tensor(dtype, ctx.dims(0))];
  },
  RandomNormalLike: (ctx) => {
    const dtype = ctx.node.attributes.has("dtype")
      ? (ctx.node.getInt("dtype") as DataType)
      : ctx.input(0)?.elemType;
    return [dtype === undefined ? undefined : tensor(dtype, ctx.dims(0))];
  },
  Bernoulli: (ctx) => {
    const dtype = ctx.node.attributes.has("dtype")
      ? (ctx.node.getInt("dtype") as DataType)
      : ctx.input(0)?.elemType;
    return [dtype === undefined ? undefined : tensor(dtype, ctx.dims(0))];
  },
};
elementwiseOps.RandomUniformLike = elementwiseOps.RandomNormalLike!;
