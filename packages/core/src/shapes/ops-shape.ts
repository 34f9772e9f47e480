import { AttributeType } from "../ir/attribute.js";
import { DataType } from "../ir/dtype.js";
import { Tensor } from "../ir/tensor.js";
import type { Dim } from "../ir/types.js";
import type { Value } from "../ir/value.js";
import {
  axis,
  FLOAT,
  INT64,
  type InferContext,
  type Inferred,
  type OpInference,
  tensor,
} from "./context.js";
import { addDims, broadcastShapes, divDims, mulDims, productDims, subDims } from "./dims.js";

/** Ends at or beyond this are "to the end" (exporters write INT64_MAX or INT32_MAX). */
const TO_THE_END = 2 ** 31 - 1;

/** Integer elements of a constant input, or its propagated values when all are numbers. */
function numbers(ctx: InferContext, i: number): number[] | undefined {
  const v = ctx.values(i);
  if (v?.every((d): d is number => typeof d === "number")) return [...v];
  return undefined;
}

/** Axes from the `axes` attribute (older opsets) or input `index` (from `since`). */
function axesOf(ctx: InferContext, index: number, since: number): number[] | undefined {
  if (ctx.opset >= since) return ctx.has(index) ? numbers(ctx, index) : undefined;
  return ctx.node.attributes.has("axes") ? ctx.node.getInts("axes") : undefined;
}

function reduce(ctx: InferContext, axesInputSince: number, elemType?: DataType): Inferred {
  const x = ctx.input(0);
  if (!x) return undefined;
  const type = elemType ?? x.elemType;
  const dims = x.dims;
  if (!dims) return tensor(type);
  const keep = ctx.node.getInt("keepdims", 1) === 1;
  const fromInput = ctx.opset >= axesInputSince;
  let axes = axesOf(ctx, 1, axesInputSince);
  if (fromInput && ctx.has(1) && !axes) {
    // axes computed at run time: the rank is known only when dims are kept
    return keep
      ? tensor(
          type,
          dims.map(() => null),
        )
      : tensor(type);
  }
  if (!axes || axes.length === 0) {
    if (ctx.node.getInt("noop_with_empty_axes", 0) === 1) return tensor(type, dims);
    axes = dims.map((_, i) => i);
  }
  const set = new Set(axes.map((a) => axis(a, dims.length)));
  const out = keep ? dims.map((d, i) => (set.has(i) ? 1 : d)) : dims.filter((_, i) => !set.has(i));
  return tensor(type, out);
}

const REDUCE = [
  "ReduceMax",
  "ReduceMin",
  "ReduceMean",
  "ReduceProd",
  "ReduceL1",
  "ReduceL2",
  "ReduceLogSum",
  "ReduceLogSumExp",
  "ReduceSumSquare",
];

function argReduce(ctx: InferContext): Inferred {
  const dims = ctx.dims(0);
  if (!dims) return tensor(INT64);
  const a = axis(ctx.node.getInt("axis", 0), dims.length);
  const keep = ctx.node.getInt("keepdims", 1) === 1;
  return tensor(
    INT64,
    keep ? dims.map((d, i) => (i === a ? 1 : d)) : dims.filter((_, i) => i !== a),
  );
}

/** One sliced dim: exact for numbers, symbolic for in-range bounds of symbolic dims. */
function sliceDim(d: Dim, start: Dim, end: Dim, step: number): Dim {
  if (typeof d === "number" && typeof start === "number" && typeof end === "number") {
    let s = start < 0 ? start + d : start;
    let e = end < 0 ? end + d : end;
    if (step > 0) {
      s = Math.min(Math.max(s, 0), d);
      e = Math.min(Math.max(e, 0), d);
    } else {
      s = Math.min(Math.max(s, -1), d - 1);
      e = Math.min(Math.max(e, -1), d - 1);
    }
    return Math.max(0, Math.ceil((e - s) / step));
  }
  if (step !== 1 || d === null || start === null || end === null) return null;
  if (typeof d === "number" && (typeof start !== "number" || typeof end !== "number")) {
    // bounds computed from other dims (GPT-2's causal buffer[kl - ql : kl]): taken as in range
    const s = typeof start === "number" && start < 0 ? addDims(d, start) : start;
    const e = typeof end === "number" && (end >= TO_THE_END || end > d) ? d : end;
    const out = subDims(e, s);
    return typeof out === "number" && out < 0 ? 0 : out;
  }
  const s = typeof start === "number" && start < 0 ? addDims(d, start) : start;
  if (typeof start === "number" && start > TO_THE_END) return 0;
  const e =
    typeof end === "number" && end >= TO_THE_END
      ? d
      : typeof end === "number" && end < 0
        ? addDims(d, end)
        : end;
  const out = subDims(e, s);
  return typeof out === "number" && out < 0 ? 0 : out;
}

function sliceInference(ctx: InferContext): Inferred[] {
  const x = ctx.input(0);
  if (!x) return [undefined];
  const dims = x.dims;
  let starts: readonly Dim[] | undefined;
  let ends: readonly Dim[] | undefined;
  let axes: readonly number[] | undefined;
  let steps: readonly number[] | undefined;
  if (ctx.opset < 10) {
    starts = ctx.node.getInts("starts");
    ends = ctx.node.getInts("ends");
    axes = ctx.node.attributes.has("axes") ? ctx.node.getInts("axes") : undefined;
  } else {
    starts = ctx.values(1);
    ends = ctx.values(2);
    if (ctx.has(3)) axes = numbers(ctx, 3);
    if (ctx.has(4)) steps = numbers(ctx, 4);
    if ((ctx.has(3) && !axes) || (ctx.has(4) && !steps)) starts = undefined;
  }
  if (!dims) return [tensor(x.elemType)];
  if (!starts || !ends || starts.length !== ends.length)
    return [
      tensor(
        x.elemType,
        dims.map(() => null),
      ),
    ];
  const out: Dim[] = [...dims];
  for (let i = 0; i < starts.length; i++) {
    const a = axis(axes?.[i] ?? i, dims.length);
    out[a] = sliceDim(dims[a]!, starts[i]!, ends[i]!, steps?.[i] ?? 1);
  }
  // slicing a shape value: `Shape(x)[1:]`
  const v = ctx.values(0);
  if (v && dims.length === 1 && typeof out[0] === "number") {
    const s = starts[0];
    const e = ends[0];
    const step = steps?.[0] ?? 1;
    if (typeof s === "number" && typeof e === "number") {
      const n = v.length;
      const picked: Dim[] = [];
      let b = s < 0 ? s + n : Math.min(s, step > 0 ? n : n - 1);
      const stop = e < 0 ? e + n : Math.min(e, n);
      b = Math.max(b, step > 0 ? 0 : -1);
      for (let k = b; step > 0 ? k < stop : k > stop; k += step) picked.push(v[k]!);
      ctx.setValues(0, picked);
    }
  }
  return [tensor(x.elemType, out)];
}

function reshapeInference(ctx: InferContext): Inferred[] {
  const x = ctx.input(0);
  if (!x) return [undefined];
  const target = ctx.values(1);
  if (!target) {
    const n = ctx.dims(1)?.[0];
    return [tensor(x.elemType, typeof n === "number" ? new Array(n).fill(null) : undefined)];
  }
  const allowZero = ctx.node.getInt("allowzero", 0) === 1;
  const out: Dim[] = target.map((d, i) => (d === 0 && !allowZero ? (x.dims?.[i] ?? null) : d));
  const unknownAt = out.indexOf(-1);
  if (unknownAt >= 0) {
    const rest = out.filter((_, i) => i !== unknownAt);
    const total = x.dims ? productDims(x.dims) : null;
    const known = productDims(rest);
    out[unknownAt] = total !== null && known !== null ? divDims(total, known) : null;
  }
  const v = ctx.values(0);
  if (v && out.length === 1) ctx.setValues(0, v);
  return [tensor(x.elemType, out)];
}

function concatInference(ctx: InferContext): Inferred[] {
  const parts = Array.from({ length: ctx.inputCount }, (_, i) => ctx.input(i));
  const type = parts.find((p) => p)?.elemType;
  if (type === undefined) return [undefined];
  const withRank = parts.find((p) => p?.dims)?.dims;
  if (!withRank) return [tensor(type)];
  const rank = withRank.length;
  const a = axis(ctx.node.getInt("axis"), rank);
  const out: Dim[] = new Array(rank).fill(null);
  let total: Dim = 0;
  for (const p of parts) {
    const dims = p?.dims;
    if (!dims) {
      total = null;
      continue;
    }
    dims.forEach((d, i) => {
      if (i !== a && out[i] === null) out[i] = d;
      else if (i !== a && typeof d === "number" && typeof out[i] !== "number") out[i] = d;
    });
    total = total === null ? null : addDims(total, dims[a]!);
  }
  out[a] = total;
  // concatenating shape values: `Concat(Shape(x)[0], [-1])`
  const values: Dim[] = [];
  for (let i = 0; i < ctx.inputCount && values !== undefined; i++) {
    const v = ctx.values(i);
    if (!v) return [tensor(type, out)];
    values.push(...v);
  }
  if (rank === 1) ctx.setValues(0, values);
  return [tensor(type, out)];
}

function gatherInference(ctx: InferContext): Inferred[] {
  const x = ctx.input(0);
  if (!x) return [undefined];
  const data = x.dims;
  const indices = ctx.dims(1);
  if (!data || !indices) return [tensor(x.elemType)];
  const a = axis(ctx.node.getInt("axis", 0), data.length);
  const v = ctx.values(0);
  const idx = numbers(ctx, 1);
  if (v && idx && data.length === 1) {
    const picked = idx.map((k) => v[k < 0 ? k + v.length : k] ?? null);
    ctx.setValues(0, picked);
  }
  return [tensor(x.elemType, [...data.slice(0, a), ...indices, ...data.slice(a + 1)])];
}

function splitInference(ctx: InferContext): Inferred[] {
  const x = ctx.input(0);
  const n = ctx.node.outputs.length;
  if (!x) return new Array(n).fill(undefined);
  const dims = x.dims;
  if (!dims) return new Array(n).fill(tensor(x.elemType));
  const a = axis(ctx.node.getInt("axis", 0), dims.length);
  let sizes: Dim[] | undefined;
  if (ctx.opset >= 13 && ctx.has(1)) sizes = ctx.values(1) ? [...ctx.values(1)!] : undefined;
  else if (ctx.opset < 13 && ctx.node.attributes.has("split")) sizes = ctx.node.getInts("split");
  else if (ctx.opset < 13 || !ctx.has(1)) {
    const d = dims[a]!;
    if (typeof d === "number") {
      const chunk = Math.ceil(d / n);
      sizes = Array.from({ length: n }, (_, i) => Math.min(chunk, Math.max(0, d - i * chunk)));
    } else {
      const part = divDims(d, n);
      sizes = new Array(n).fill(part);
    }
  }
  return Array.from({ length: n }, (_, i) => {
    const out = [...dims];
    out[a] = sizes?.[i] ?? null;
    return tensor(x.elemType, out);
  });
}

function padInference(ctx: InferContext): Inferred[] {
  const x = ctx.input(0);
  if (!x) return [undefined];
  const dims = x.dims;
  if (!dims) return [tensor(x.elemType)];
  const pads =
    ctx.opset < 11 ? ctx.node.getInts(ctx.opset < 2 ? "paddings" : "pads") : numbers(ctx, 1);
  if (!pads)
    return [
      tensor(
        x.elemType,
        dims.map(() => null),
      ),
    ];
  const axes = ctx.opset >= 18 && ctx.has(3) ? numbers(ctx, 3) : dims.map((_, i) => i);
  if (!axes)
    return [
      tensor(
        x.elemType,
        dims.map(() => null),
      ),
    ];
  const out = [...dims];
  axes.forEach((raw, k) => {
    const a = axis(raw, dims.length);
    out[a] = addDims(addDims(dims[a]!, pads[k]!), pads[k + axes.length]!);
  });
  return [tensor(x.elemType, out)];
}

function scaled(d: Dim, s: number): Dim {
  if (typeof d === "number") return Math.floor(d * s);
  return Number.isInteger(s) ? mulDims(d, s) : null;
}

function resizeInference(ctx: InferContext): Inferred[] {
  const x = ctx.input(0);
  if (!x) return [undefined];
  const dims = x.dims;
  if (!dims) return [tensor(x.elemType)];
  const upsample = ctx.node.opType === "Upsample";
  let scales: number[] | undefined;
  let sizes: readonly Dim[] | undefined;
  if (upsample) {
    scales = ctx.opset < 9 ? ctx.node.getFloats("scales") : constFloats(ctx, 1);
  } else if (ctx.opset < 11) {
    scales = constFloats(ctx, 1);
  } else {
    if (ctx.has(3)) sizes = ctx.values(3);
    else if (ctx.has(2)) scales = constFloats(ctx, 2);
  }
  const axes =
    !upsample && ctx.opset >= 18 && ctx.node.attributes.has("axes")
      ? ctx.node.getInts("axes").map((a) => axis(a, dims.length))
      : dims.map((_, i) => i);
  const out: Dim[] = [...dims];
  if (sizes && sizes.length === axes.length) {
    axes.forEach((a, k) => {
      out[a] = sizes[k]!;
    });
  } else if (scales && scales.length === axes.length) {
    axes.forEach((a, k) => {
      out[a] = scaled(dims[a]!, scales[k]!);
    });
  } else
    return [
      tensor(
        x.elemType,
        dims.map(() => null),
      ),
    ];
  return [tensor(x.elemType, out)];
}

function constFloats(ctx: InferContext, i: number): number[] | undefined {
  const c = ctx.constant(i);
  if (!c || c.elementCount === 0) return undefined;
  return Array.from(c.toArray() as ArrayLike<number>, Number);
}

function constantInference(ctx: InferContext): Inferred[] {
  for (const a of ctx.node.attributes.values()) {
    if (!("type" in a) || "refAttrName" in a) continue;
    switch (a.type) {
      case AttributeType.TENSOR:
        return [tensor(a.value.dataType, a.value.dims)];
      case AttributeType.SPARSE_TENSOR:
        return [tensor(a.value.values.dataType, a.value.dims)];
      case AttributeType.FLOAT:
        return [tensor(FLOAT, [])];
      case AttributeType.INT:
        return [tensor(INT64, [])];
      case AttributeType.FLOATS:
        return [tensor(FLOAT, [a.value.length])];
      case AttributeType.INTS:
        return [tensor(INT64, [a.value.length])];
      case AttributeType.STRING:
        return [tensor(DataType.STRING, [])];
      case AttributeType.STRINGS:
        return [tensor(DataType.STRING, [a.value.length])];
    }
  }
  return [undefined];
}

function einsumInference(ctx: InferContext): Inferred[] {
  const x = ctx.input(0);
  if (!x) return [undefined];
  const equation = ctx.node.getString("equation").replace(/\s/g, "");
  const [lhs, rhs] = equation.split("->");
  const terms = lhs!.split(",");
  const letters = new Map<string, Dim>();
  let ellipsis: Dim[] | undefined;
  for (const [i, term] of terms.entries()) {
    const dims = ctx.dims(i);
    if (!dims) return [tensor(x.elemType)];
    const [before, after] = term.includes("...") ? term.split("...") : [term, undefined];
    const named = after === undefined ? before! : before! + after;
    const extra = dims.length - named.length;
    if (after !== undefined) {
      const e = dims.slice(before!.length, before!.length + extra);
      ellipsis = ellipsis ? broadcastShapes([ellipsis, e]) : [...e];
    }
    [...before!].forEach((c, k) => void letters.set(c, keepKnown(letters.get(c), dims[k]!)));
    if (after !== undefined)
      [...after].forEach(
        (c, k) => void letters.set(c, keepKnown(letters.get(c), dims[before!.length + extra + k]!)),
      );
  }
  let out: Dim[];
  if (rhs !== undefined) {
    const [before, after] = rhs.includes("...") ? rhs.split("...") : [rhs, undefined];
    out = [...before!].map((c) => letters.get(c) ?? null);
    if (after !== undefined)
      out.push(...(ellipsis ?? []), ...[...after].map((c) => letters.get(c) ?? null));
  } else {
    const counts = new Map<string, number>();
    for (const c of terms.join("").replace(/\./g, "")) counts.set(c, (counts.get(c) ?? 0) + 1);
    out = [
      ...(ellipsis ?? []),
      ...[...counts]
        .filter(([, n]) => n === 1)
        .map(([c]) => c)
        .sort()
        .map((c) => letters.get(c) ?? null),
    ];
  }
  return [tensor(x.elemType, out)];
}

function keepKnown(a: Dim | undefined, b: Dim): Dim {
  if (a === undefined || a === null || a === 1) return b;
  return a;
}

export const shapeOps: Record<string, OpInference> = {
  Shape: (ctx) => {
    const dims = ctx.dims(0);
    if (!dims) return [tensor(INT64, [null])];
    const rank = dims.length;
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
    const start = clamp(ctx.node.getInt("start", 0));
    const end = ctx.node.attributes.has("end") ? clamp(ctx.node.getInt("end")) : rank;
    const values = dims.slice(start, Math.max(start, end));
    ctx.setValues(0, values);
    return [tensor(INT64, [values.length])];
  },
  Size: (ctx) => {
    const dims = ctx.dims(0);
    if (dims) ctx.setValues(0, [productDims(dims)]);
    return [tensor(INT64, [])];
  },
  Constant: constantInference,
  Reshape: reshapeInference,
  Flatten: (ctx) => {
    const x = ctx.input(0);
    if (!x?.dims) return [x ? tensor(x.elemType, [null, null]) : undefined];
    const a = axis(ctx.node.getInt("axis", 1), x.dims.length);
    return [tensor(x.elemType, [productDims(x.dims.slice(0, a)), productDims(x.dims.slice(a))])];
  },
  Transpose: (ctx) => {
    const x = ctx.input(0);
    if (!x?.dims) return [x];
    const rank = x.dims.length;
    const perm = ctx.node.getInts(
      "perm",
      x.dims.map((_, i) => rank - 1 - i),
    );
    return [
      tensor(
        x.elemType,
        perm.map((p) => x.dims![p] ?? null),
      ),
    ];
  },
  Unsqueeze: (ctx) => {
    const x = ctx.input(0);
    if (!x) return [undefined];
    const axes = axesOf(ctx, 1, 13);
    if (!x.dims || !axes) return [tensor(x.elemType)];
    const rank = x.dims.length + axes.length;
    const set = new Set(axes.map((a) => axis(a, rank)));
    const out: Dim[] = [];
    let k = 0;
    for (let i = 0; i < rank; i++) out.push(set.has(i) ? 1 : (x.dims[k++] ?? null));
    const v = ctx.values(0);
    if (v && rank <= 1) ctx.setValues(0, v);
    return [tensor(x.elemType, out)];
  },
  Squeeze: (ctx) => {
    const x = ctx.input(0);
    if (!x) return [undefined];
    const axes = axesOf(ctx, 1, 13);
    if (!x.dims) return [tensor(x.elemType)];
    let out: Dim[];
    if (axes) {
      const set = new Set(axes.map((a) => axis(a, x.dims!.length)));
      out = x.dims.filter((_, i) => !set.has(i));
    } else if (ctx.has(1) && ctx.opset >= 13) return [tensor(x.elemType)];
    else if (x.dims.every((d) => typeof d === "number")) out = x.dims.filter((d) => d !== 1);
    else return [tensor(x.elemType)];
    const v = ctx.values(0);
    if (v && out.length <= 1) ctx.setValues(0, v);
    return [tensor(x.elemType, out)];
  },
  Concat: concatInference,
  Split: splitInference,
  Slice: sliceInference,
  Gather: gatherInference,
  GatherElements: (ctx) => {
    const t = ctx.input(0)?.elemType;
    return [t === undefined ? undefined : tensor(t, ctx.dims(1))];
  },
  GatherND: (ctx) => {
    const x = ctx.input(0);
    const data = x?.dims;
    const indices = ctx.dims(1);
    if (!x || !data || !indices) return [x ? tensor(x.elemType) : undefined];
    const last = indices[indices.length - 1];
    const b = ctx.node.getInt("batch_dims", 0);
    if (typeof last !== "number") return [tensor(x.elemType)];
    return [tensor(x.elemType, [...indices.slice(0, -1), ...data.slice(b + last)])];
  },
  ScatterND: (ctx) => [ctx.input(0)],
  ScatterElements: (ctx) => [ctx.input(0)],
  Scatter: (ctx) => [ctx.input(0)],
  Expand: (ctx) => {
    const x = ctx.input(0);
    if (!x) return [undefined];
    const n = ctx.dims(1)?.[0];
    // an unknown target dim is 1 or the input's dim: the input's dim wins where it is not 1
    const shape =
      ctx.values(1) ?? (typeof n === "number" ? new Array<Dim>(n).fill(null) : undefined);
    if (!x.dims || !shape) return [tensor(x.elemType)];
    return [tensor(x.elemType, broadcastShapes([x.dims, shape]))];
  },
  Tile: (ctx) => {
    const x = ctx.input(0);
    if (!x?.dims) return [x];
    const repeats = ctx.values(1);
    return [
      tensor(
        x.elemType,
        x.dims.map((d, i) => (repeats ? mulDims(d, repeats[i] ?? null) : null)),
      ),
    ];
  },
  Pad: padInference,
  Resize: resizeInference,
  Upsample: resizeInference,
  DepthToSpace: (ctx) => {
    const x = ctx.input(0);
    if (x?.dims?.length !== 4) return [x];
    const b = ctx.node.getInt("blocksize");
    const [n, c, h, w] = x.dims as readonly Dim[];
    return [tensor(x.elemType, [n!, divDims(c!, b * b), mulDims(h!, b), mulDims(w!, b)])];
  },
  SpaceToDepth: (ctx) => {
    const x = ctx.input(0);
    if (x?.dims?.length !== 4) return [x];
    const b = ctx.node.getInt("blocksize");
    const [n, c, h, w] = x.dims as readonly Dim[];
    return [tensor(x.elemType, [n!, mulDims(c!, b * b), divDims(h!, b), divDims(w!, b)])];
  },
  ConstantOfShape: (ctx) => {
    const a = ctx.node.attribute("value");
    const type = a?.value instanceof Tensor ? a.value.dataType : FLOAT;
    const shape = ctx.values(0);
    if (shape) return [tensor(type, shape)];
    const n = ctx.dims(0)?.[0];
    return [tensor(type, typeof n === "number" ? new Array(n).fill(null) : undefined)];
  },
  Range: (ctx) => {
    const type = ctx.input(0)?.elemType;
    if (type === undefined) return [undefined];
    const [s, l, d] = [0, 1, 2].map((i) => ctx.values(i)?.[0]);
    if (typeof s === "number" && typeof l === "number" && typeof d === "number" && d !== 0)
      return [tensor(type, [Math.max(Math.ceil((l - s) / d), 0)])];
    // Range(0, seq, 1), as exporters write position ids: seq elements
    if (d === 1 && s !== undefined && s !== null && l !== undefined && l !== null)
      return [tensor(type, [subDims(l, s)])];
    return [tensor(type, [null])];
  },
  NonZero: (ctx) => {
    const dims = ctx.dims(0);
    // arange before opset 11: NonZero(ConstantOfShape(n, 1)) finds every element
    const count = dims && allNonZero(ctx.node.inputs[0]) ? productDims(dims) : null;
    return [tensor(INT64, [dims ? dims.length : null, count])];
  },
  TopK: (ctx) => {
    const x = ctx.input(0);
    if (!x) return [undefined, undefined];
    if (!x.dims) return [tensor(x.elemType), tensor(INT64)];
    const a = axis(ctx.node.getInt("axis", -1), x.dims.length);
    const k = ctx.opset >= 10 ? (ctx.values(1)?.[0] ?? null) : ctx.node.getInt("k");
    const out = x.dims.map((d, i) => (i === a ? k : d));
    return [tensor(x.elemType, out), tensor(INT64, out)];
  },
  ArgMax: (ctx) => [argReduce(ctx)],
  ArgMin: (ctx) => [argReduce(ctx)],
  ReduceSum: (ctx) => [reduce(ctx, 13)],
  ...Object.fromEntries(REDUCE.map((op) => [op, (ctx: InferContext) => [reduce(ctx, 18)]])),
  OneHot: (ctx) => {
    const type = ctx.input(2)?.elemType;
    const dims = ctx.dims(0);
    if (type === undefined || !dims) return [type === undefined ? undefined : tensor(type)];
    const rank = dims.length + 1;
    const a = axis(ctx.node.getInt("axis", -1), rank);
    const depth = ctx.constant(1);
    const d: Dim = depth && depth.elementCount === 1 ? depth.scalar() : null;
    return [tensor(type, [...dims.slice(0, a), d, ...dims.slice(a)])];
  },
  Compress: (ctx) => {
    const x = ctx.input(0);
    if (!x) return [undefined];
    if (!ctx.node.attributes.has("axis")) return [tensor(x.elemType, [null])];
    if (!x.dims) return [tensor(x.elemType)];
    const a = axis(ctx.node.getInt("axis"), x.dims.length);
    return [
      tensor(
        x.elemType,
        x.dims.map((d, i) => (i === a ? null : d)),
      ),
    ];
  },
  Einsum: einsumInference,
  RandomNormal: (ctx) => [
    tensor(ctx.node.getInt("dtype", FLOAT) as DataType, ctx.node.getInts("shape")),
  ],
  RandomUniform: (ctx) => [
    tensor(ctx.node.getInt("dtype", FLOAT) as DataType, ctx.node.getInts("shape")),
  ],
  Multinomial: (ctx) => [
    tensor(ctx.node.getInt("dtype", DataType.INT32) as DataType, [
      ctx.dims(0)?.[0] ?? null,
      ctx.node.getInt("sample_size", 1),
    ]),
  ],
  NonMaxSuppression: () => [tensor(INT64, [null, 3])],
  HannWindow: windowInference,
  STFT: (ctx) => [ctx.input(0) ? tensor(ctx.input(0)!.elemType) : undefined],
  MelWeightMatrix: (ctx) => [tensor(ctx.node.getInt("output_datatype", FLOAT) as DataType)],
  HammingWindow: windowInference,
  BlackmanWindow: windowInference,
  DFT: (ctx) => {
    const x = ctx.input(0);
    if (!x?.dims) return [x];
    const rank = x.dims.length;
    const a = axis(
      ctx.opset >= 20 ? (numbers(ctx, 2)?.[0] ?? -2) : ctx.node.getInt("axis", 1),
      rank,
    );
    const out = [...x.dims];
    out[rank - 1] = 2;
    const length = ctx.has(1) ? (ctx.values(1)?.[0] ?? null) : x.dims[a]!;
    const onesided = ctx.node.getInt("onesided", 0) === 1;
    out[a] = onesided ? (typeof length === "number" ? Math.floor(length / 2) + 1 : null) : length;
    return [tensor(x.elemType, out)];
  },
  Det: (ctx) => {
    const x = ctx.input(0);
    return [x?.dims ? tensor(x.elemType, x.dims.slice(0, -2)) : x];
  },
  Unique: (ctx) => {
    const x = ctx.input(0);
    if (!x) return [undefined, undefined, undefined, undefined];
    const hasAxis = ctx.node.attributes.has("axis");
    const y =
      hasAxis && x.dims
        ? tensor(
            x.elemType,
            x.dims.map((d, i) => (i === axis(ctx.node.getInt("axis"), x.dims!.length) ? null : d)),
          )
        : tensor(x.elemType, [null]);
    return [
      y,
      tensor(INT64, [null]),
      tensor(INT64, [hasAxis ? null : x.dims ? productDims(x.dims) : null]),
      tensor(INT64, [null]),
    ];
  },
};

function windowInference(ctx: InferContext): Inferred[] {
  const type = ctx.node.getInt("output_datatype", FLOAT) as DataType;
  const size = ctx.values(0)?.[0];
  return [tensor(type, size === undefined ? [null] : [size])];
}

/** Whether a value is known to hold no zero: a ConstantOfShape of a nonzero fill (maybe Cast). */
function allNonZero(value: Value | undefined): boolean {
  const node = value?.producer();
  if (node?.domain !== "") return false;
  if (node.opType === "Cast") return allNonZero(node.inputs[0]);
  if (node.opType !== "ConstantOfShape") return false;
  const fill = node.attribute("value");
  return (
    fill?.value instanceof Tensor && fill.value.elementCount === 1 && fill.value.scalar() !== 0
  );
}
