import { DataType } from "../ir/dtype.js";
import type { Dim } from "../ir/types.js";
import {
  axis,
  FLOAT,
  type InferContext,
  type Inferred,
  type OpInference,
  tensor,
} from "./context.js";
import { addDims, broadcastShapes, mulDims } from "./dims.js";

/** numpy.matmul's shape: batch dims broadcast, 1-D operands promoted and their dim dropped. */
export function matmulDims(a: readonly Dim[], b: readonly Dim[]): Dim[] {
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  const batch = broadcastShapes([a2.slice(0, -2), b2.slice(0, -2)]);
  const out = [...batch];
  if (a.length !== 1) out.push(a2[a2.length - 2]!);
  if (b.length !== 1) out.push(b2[b2.length - 1]!);
  return out;
}

function matmul(ctx: InferContext, elemType?: DataType, a = 0, b = 1): Inferred {
  const type = elemType ?? ctx.input(a)?.elemType;
  if (type === undefined) return undefined;
  const da = ctx.dims(a);
  const db = ctx.dims(b);
  return da && db ? tensor(type, matmulDims(da, db)) : tensor(type);
}

/** One spatial output dim of a convolution or pooling window. */
function windowDim(
  input: Dim,
  kernel: number,
  stride: number,
  dilation: number,
  padBegin: number,
  padEnd: number,
  autoPad: string,
  ceilMode: boolean,
): Dim {
  const effective = dilation * (kernel - 1) + 1;
  if (autoPad === "SAME_UPPER" || autoPad === "SAME_LOWER") {
    if (typeof input === "number") return Math.ceil(input / stride);
    return stride === 1 ? input : null;
  }
  const pads = autoPad === "VALID" ? 0 : padBegin + padEnd;
  if (typeof input !== "number") {
    return stride === 1 && pads - effective + 1 === 0
      ? input
      : stride === 1
        ? addDims(input, pads - effective + 1)
        : null;
  }
  const span = input + pads - effective;
  const out = (ceilMode ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
  // with ceil_mode, a last window starting inside the right padding is dropped
  if (ceilMode && (out - 1) * stride >= input + padBegin) return out - 1;
  return out;
}

function spatial(
  ctx: InferContext,
  x: readonly Dim[],
  kernel: readonly number[],
  ceilMode = false,
): Dim[] {
  const n = kernel.length;
  const strides = ctx.node.getInts("strides", new Array(n).fill(1));
  const dilations = ctx.node.getInts("dilations", new Array(n).fill(1));
  const pads = ctx.node.getInts("pads", new Array(2 * n).fill(0));
  const autoPad = ctx.node.getString("auto_pad", "NOTSET");
  return kernel.map((k, i) =>
    windowDim(x[2 + i]!, k, strides[i]!, dilations[i]!, pads[i]!, pads[i + n]!, autoPad, ceilMode),
  );
}

function conv(ctx: InferContext, elemType?: DataType, w = 1): Inferred {
  const type = elemType ?? ctx.input(0)?.elemType;
  if (type === undefined) return undefined;
  const x = ctx.dims(0);
  const wd = ctx.dims(w);
  if (!x) return tensor(type);
  const kernel = ctx.node.attributes.has("kernel_shape")
    ? ctx.node.getInts("kernel_shape")
    : wd?.slice(2).every((d) => typeof d === "number")
      ? (wd.slice(2) as number[])
      : undefined;
  const channels = wd?.[0] ?? null;
  if (!kernel) return tensor(type, [x[0]!, channels, ...x.slice(2).map(() => null)]);
  return tensor(type, [x[0]!, channels, ...spatial(ctx, x, kernel)]);
}

function convTranspose(ctx: InferContext): Inferred {
  const x = ctx.input(0);
  if (!x?.dims) return x;
  const w = ctx.dims(1);
  const n = x.dims.length - 2;
  const group = ctx.node.getInt("group", 1);
  const channels = w ? mulDims(w[1]!, group) : null;
  if (ctx.node.attributes.has("output_shape")) {
    const shape = ctx.node.getInts("output_shape");
    return tensor(x.elemType, [x.dims[0]!, channels, ...shape.slice(-n)]);
  }
  const kernel = ctx.node.attributes.has("kernel_shape")
    ? ctx.node.getInts("kernel_shape")
    : (w?.slice(2) as number[] | undefined);
  if (!kernel || kernel.some((k) => typeof k !== "number"))
    return tensor(x.elemType, [x.dims[0]!, channels, ...new Array(n).fill(null)]);
  const strides = ctx.node.getInts("strides", new Array(n).fill(1));
  const dilations = ctx.node.getInts("dilations", new Array(n).fill(1));
  const outPad = ctx.node.getInts("output_padding", new Array(n).fill(0));
  const pads = ctx.node.getInts("pads", new Array(2 * n).fill(0));
  const autoPad = ctx.node.getString("auto_pad", "NOTSET");
  const dims = kernel.map((k, i) => {
    const d = x.dims![2 + i]!;
    if (typeof d !== "number") return null;
    if (autoPad === "SAME_UPPER" || autoPad === "SAME_LOWER") return d * strides[i]!;
    return (
      strides[i]! * (d - 1) + outPad[i]! + (k - 1) * dilations[i]! + 1 - pads[i]! - pads[i + n]!
    );
  });
  return tensor(x.elemType, [x.dims[0]!, channels, ...dims]);
}

function pool(ctx: InferContext): Inferred[] {
  const x = ctx.input(0);
  if (!x?.dims) return [x, x ? tensor(DataType.INT64) : undefined];
  const kernel = ctx.node.getInts("kernel_shape");
  const ceil = ctx.node.getInt("ceil_mode", 0) === 1;
  const out = tensor(x.elemType, [x.dims[0]!, x.dims[1]!, ...spatial(ctx, x.dims, kernel, ceil)]);
  return [out, tensor(DataType.INT64, out.dims)];
}

function globalPool(ctx: InferContext): Inferred[] {
  const x = ctx.input(0);
  if (!x?.dims) return [x];
  return [
    tensor(
      x.elemType,
      x.dims.map((d, i) => (i < 2 ? d : 1)),
    ),
  ];
}

/** LayerNormalization's mean and inverse std: the input's dims with the normalized ones as 1. */
function normStats(ctx: InferContext, a: number, type: DataType): Inferred {
  const dims = ctx.dims(0);
  if (!dims) return tensor(type);
  const at = axis(a, dims.length);
  return tensor(
    type,
    dims.map((d, i) => (i < at ? d : 1)),
  );
}

function recurrent(ctx: InferContext, gates: number): Inferred[] {
  const x = ctx.input(0);
  if (!x) return [undefined, undefined, undefined];
  const layout = ctx.node.getInt("layout", 0);
  const dims = x.dims;
  const hidden = ctx.node.attributes.has("hidden_size")
    ? ctx.node.getInt("hidden_size")
    : (ctx.dims(2)?.[2] ?? null);
  const directions = ctx.node.getString("direction", "forward") === "bidirectional" ? 2 : 1;
  void gates;
  if (!dims) return [tensor(x.elemType), tensor(x.elemType), tensor(x.elemType)];
  const [seq, batch] = layout === 0 ? [dims[0]!, dims[1]!] : [dims[1]!, dims[0]!];
  const y = layout === 0 ? [seq, directions, batch, hidden] : [batch, seq, directions, hidden];
  const h = layout === 0 ? [directions, batch, hidden] : [batch, directions, hidden];
  return [tensor(x.elemType, y), tensor(x.elemType, h), tensor(x.elemType, h)];
}

/** NegativeLogLikelihoodLoss / SoftmaxCrossEntropyLoss: [N, d1…] per element, or a scalar. */
function loss(ctx: InferContext): Inferred[] {
  const x = ctx.input(0);
  if (!x) return [undefined, undefined];
  const none = ctx.node.getString("reduction", "mean") === "none";
  const dims = x.dims;
  const perElement = dims ? tensor(x.elemType, [dims[0]!, ...dims.slice(2)]) : tensor(x.elemType);
  return [none ? perElement : tensor(x.elemType, []), x];
}

export const nnOps: Record<string, OpInference> = {
  NegativeLogLikelihoodLoss: (ctx) => [loss(ctx)[0]],
  SoftmaxCrossEntropyLoss: loss,
  GridSample: (ctx) => {
    const x = ctx.input(0);
    const grid = ctx.dims(1);
    if (!x?.dims || !grid) return [x ? tensor(x.elemType) : undefined];
    return [tensor(x.elemType, [x.dims[0]!, x.dims[1]!, ...grid.slice(1, -1)])];
  },
  RoiAlign: (ctx) => {
    const x = ctx.input(0);
    if (!x) return [undefined];
    const rois = ctx.dims(1)?.[0] ?? null;
    return [
      tensor(x.elemType, [
        rois,
        x.dims?.[1] ?? null,
        ctx.node.getInt("output_height", 1),
        ctx.node.getInt("output_width", 1),
      ]),
    ];
  },
  MaxUnpool: (ctx) => {
    const x = ctx.input(0);
    if (!x?.dims) return [x];
    if (ctx.has(2)) {
      const shape = ctx.values(2);
      return [tensor(x.elemType, shape ?? undefined)];
    }
    const kernel = ctx.node.getInts("kernel_shape");
    const n = kernel.length;
    const strides = ctx.node.getInts("strides", new Array(n).fill(1));
    const pads = ctx.node.getInts("pads", new Array(2 * n).fill(0));
    const dims = kernel.map((k, i) => {
      const d = x.dims![2 + i]!;
      return typeof d === "number" ? (d - 1) * strides[i]! + k - pads[i]! - pads[i + n]! : null;
    });
    return [tensor(x.elemType, [x.dims[0]!, x.dims[1]!, ...dims])];
  },
  MatMul: (ctx) => [matmul(ctx)],
  MatMulInteger: (ctx) => [matmul(ctx, DataType.INT32)],
  QLinearMatMul: (ctx) => [matmul(ctx, ctx.input(7)?.elemType, 0, 3)],
  Gemm: (ctx) => {
    const type = ctx.input(0)?.elemType;
    const a = ctx.dims(0);
    const b = ctx.dims(1);
    if (type === undefined) return [undefined];
    if (!a || !b || a.length !== 2 || b.length !== 2) return [tensor(type, [null, null])];
    const m = ctx.node.getInt("transA", 0) ? a[1]! : a[0]!;
    const n = ctx.node.getInt("transB", 0) ? b[0]! : b[1]!;
    return [tensor(type, [m, n])];
  },
  Conv: (ctx) => [conv(ctx)],
  ConvInteger: (ctx) => [conv(ctx, DataType.INT32)],
  QLinearConv: (ctx) => [conv(ctx, ctx.input(7)?.elemType, 3)],
  ConvTranspose: (ctx) => [convTranspose(ctx)],
  MaxPool: pool,
  AveragePool: (ctx) => [pool(ctx)[0]],
  LpPool: (ctx) => [pool(ctx)[0]],
  GlobalAveragePool: globalPool,
  GlobalMaxPool: globalPool,
  GlobalLpPool: globalPool,
  BatchNormalization: (ctx) => {
    const x = ctx.input(0);
    const c = ctx.dims(1)?.[0] ?? null;
    const stat = x ? tensor(ctx.input(3)?.elemType ?? x.elemType, [c]) : undefined;
    return [x, stat, stat, stat, stat].slice(0, Math.max(1, ctx.node.outputs.length));
  },
  InstanceNormalization: (ctx) => [ctx.input(0)],
  GroupNormalization: (ctx) => [ctx.input(0)],
  LayerNormalization: (ctx) => {
    const a = ctx.node.getInt("axis", -1);
    const stash = ctx.node.getInt("stash_type", FLOAT) as DataType;
    return [ctx.input(0), normStats(ctx, a, stash), normStats(ctx, a, stash)];
  },
  RMSNormalization: (ctx) => [ctx.input(0)],
  LSTM: (ctx) => recurrent(ctx, 4),
  GRU: (ctx) => recurrent(ctx, 3),
  RNN: (ctx) => recurrent(ctx, 1),
  QuantizeLinear: (ctx) => {
    const type = ctx.has(2)
      ? ctx.input(2)?.elemType
      : ctx.node.attributes.has("output_dtype") && ctx.node.getInt("output_dtype") !== 0
        ? (ctx.node.getInt("output_dtype") as DataType)
        : DataType.UINT8;
    return [type === undefined ? undefined : tensor(type, ctx.dims(0))];
  },
  DequantizeLinear: (ctx) => {
    const type =
      ctx.node.attributes.has("output_dtype") && ctx.node.getInt("output_dtype") !== 0
        ? (ctx.node.getInt("output_dtype") as DataType)
        : (ctx.input(1)?.elemType ?? FLOAT);
    return [tensor(type, ctx.dims(0))];
  },
  DynamicQuantizeLinear: (ctx) => [
    tensor(DataType.UINT8, ctx.dims(0)),
    tensor(FLOAT, []),
    tensor(DataType.UINT8, []),
  ],
};
