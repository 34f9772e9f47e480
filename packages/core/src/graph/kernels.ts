import { DataType } from "../ir/dtype.js";
import type { Node } from "../ir/node.js";
import { Tensor } from "../ir/tensor.js";
import {
  broadcastDims,
  broadcastIndex,
  castValue,
  count,
  fromTensor,
  type HostTensor,
  isIntegerType,
  strides,
} from "./host-tensor.js";

/**
 * TypeScript implementations of the ops shape arithmetic is made of, for folding small constant
 * subgraphs without a runtime. Each returns the outputs, or undefined when it does not handle the
 * case (the node is then left alone, or folded on ONNX Runtime).
 */
export type Kernel = (
  node: Node,
  inputs: readonly (HostTensor | undefined)[],
  opset: number,
) => HostTensor[] | undefined;

const binary = (f: (a: number, b: number) => number, bool = false): Kernel => {
  return (_node, inputs) => {
    const [a, b] = inputs;
    if (!a || !b) return undefined;
    const dims = broadcastDims([a.dims, b.dims]);
    if (!dims) return undefined;
    const ia = broadcastIndex(a.dims, dims);
    const ib = broadcastIndex(b.dims, dims);
    const type = bool ? DataType.BOOL : a.dataType;
    const values = Array.from(ia, (at, i) => castValue(f(a.values[at]!, b.values[ib[i]!]!), type));
    return [{ dataType: type, dims, values }];
  };
};

const unary = (f: (a: number) => number): Kernel => {
  return (_node, [a]) =>
    a
      ? [
          {
            dataType: a.dataType,
            dims: a.dims,
            values: a.values.map((v) => castValue(f(v), a.dataType)),
          },
        ]
      : undefined;
};

const variadic = (f: (a: number, b: number) => number): Kernel => {
  return (node, inputs) => {
    const present = inputs.filter((t): t is HostTensor => t !== undefined);
    if (present.length === 0) return undefined;
    let acc: HostTensor = present[0]!;
    for (const next of present.slice(1)) {
      const r = binary(f)(node, [acc, next], 0);
      if (!r) return undefined;
      acc = r[0]!;
    }
    return [acc];
  };
};

function intDiv(a: number, b: number, type: DataType): number {
  return isIntegerType(type) ? Math.trunc(a / b) : a / b;
}

/** Axes from the attribute (older opsets) or the second input (newer ones). */
function axesOf(node: Node, input: HostTensor | undefined): number[] | undefined {
  if (input) return [...input.values];
  const a = node.attribute("axes");
  return a ? node.getInts("axes") : undefined;
}

function normalize(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

function reshapeTo(t: HostTensor, dims: readonly number[]): HostTensor {
  return { dataType: t.dataType, dims, values: t.values };
}

const reduce =
  (init: number, f: (acc: number, v: number) => number): Kernel =>
  (node, inputs, opset) => {
    const [x, axesInput] = inputs;
    if (!x) return undefined;
    const axesFromInput = node.opType === "ReduceSum" ? opset >= 13 : opset >= 18;
    let axes = axesFromInput
      ? axesInput
        ? [...axesInput.values]
        : undefined
      : axesOf(node, undefined);
    const keep = node.getInt("keepdims", 1) === 1;
    if (!axes || axes.length === 0) {
      if (node.getInt("noop_with_empty_axes", 0) === 1) return [x];
      axes = x.dims.map((_, i) => i);
    }
    const set = new Set(axes.map((a) => normalize(a, x.dims.length)));
    const outDims = x.dims.map((d, i) => (set.has(i) ? 1 : d));
    const out = new Array<number>(count(outDims)).fill(init);
    const outStrides = strides(outDims);
    const n = count(x.dims);
    const coord = new Array<number>(x.dims.length).fill(0);
    for (let i = 0; i < n; i++) {
      let at = 0;
      for (let d = 0; d < coord.length; d++) if (!set.has(d)) at += coord[d]! * outStrides[d]!;
      out[at] = f(out[at]!, x.values[i]!);
      for (let d = coord.length - 1; d >= 0; d--) {
        if (++coord[d]! < x.dims[d]!) break;
        coord[d] = 0;
      }
    }
    const dims = keep ? outDims : x.dims.filter((_, i) => !set.has(i));
    return [{ dataType: x.dataType, dims, values: out.map((v) => castValue(v, x.dataType)) }];
  };

export const KERNELS: Readonly<Record<string, Kernel>> = {
  Identity: (_n, [x]) => (x ? [x] : undefined),
  Add: binary((a, b) => a + b),
  Sub: binary((a, b) => a - b),
  Mul: binary((a, b) => a * b),
  Div: (node, inputs) => {
    const [a, b] = inputs;
    if (!a || !b) return undefined;
    if (isIntegerType(a.dataType) && b.values.includes(0)) return undefined;
    return binary((x, y) => intDiv(x, y, a.dataType))(node, inputs, 0);
  },
  Mod: (node, inputs) => {
    const [a, b] = inputs;
    if (!a || !b || b.values.includes(0)) return undefined;
    const fmod = node.getInt("fmod", 0) === 1;
    // integer Mod takes the divisor's sign (Python), fmod the dividend's (C)
    return binary((x, y) => (fmod ? x % y : ((x % y) + y) % y))(node, inputs, 0);
  },
  Pow: binary((a, b) => a ** b),
  Equal: binary((a, b) => Number(a === b), true),
  Less: binary((a, b) => Number(a < b), true),
  LessOrEqual: binary((a, b) => Number(a <= b), true),
  Greater: binary((a, b) => Number(a > b), true),
  GreaterOrEqual: binary((a, b) => Number(a >= b), true),
  And: binary((a, b) => Number(a !== 0 && b !== 0), true),
  Or: binary((a, b) => Number(a !== 0 || b !== 0), true),
  Xor: binary((a, b) => Number((a !== 0) !== (b !== 0)), true),
  Max: variadic(Math.max),
  Min: variadic(Math.min),
  Sum: variadic((a, b) => a + b),
  Neg: unary((a) => -a),
  Abs: unary(Math.abs),
  Sqrt: unary(Math.sqrt),
  Reciprocal: unary((a) => 1 / a),
  Floor: unary(Math.floor),
  Ceil: unary(Math.ceil),
  Exp: unary(Math.exp),
  Log: unary(Math.log),
  Relu: unary((a) => Math.max(a, 0)),
  Sign: unary(Math.sign),
  Not: (_n, [x]) =>
    x
      ? [{ dataType: DataType.BOOL, dims: x.dims, values: x.values.map((v) => Number(v === 0)) }]
      : undefined,
  Cast: (node, [x]) => {
    if (!x) return undefined;
    const to = node.getInt("to") as DataType;
    return [{ dataType: to, dims: x.dims, values: x.values.map((v) => castValue(v, to)) }];
  },
  Where: (_n, [c, a, b]) => {
    if (!c || !a || !b) return undefined;
    const dims = broadcastDims([c.dims, a.dims, b.dims]);
    if (!dims) return undefined;
    const ic = broadcastIndex(c.dims, dims);
    const ia = broadcastIndex(a.dims, dims);
    const ib = broadcastIndex(b.dims, dims);
    const values = Array.from(ic, (at, i) =>
      c.values[at] ? a.values[ia[i]!]! : b.values[ib[i]!]!,
    );
    return [{ dataType: a.dataType, dims, values }];
  },
  Size: (_n, [x]) =>
    x ? [{ dataType: DataType.INT64, dims: [], values: [count(x.dims)] }] : undefined,
  Shape: (node, [x]) => {
    if (!x) return undefined;
    const rank = x.dims.length;
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
    const start = clamp(node.getInt("start", 0));
    const end = node.attribute("end") ? clamp(node.getInt("end")) : rank;
    const values = x.dims.slice(start, Math.max(start, end));
    return [{ dataType: DataType.INT64, dims: [values.length], values }];
  },
  Concat: (node, inputs) => {
    const parts = inputs.filter((t): t is HostTensor => t !== undefined);
    if (parts.length === 0) return undefined;
    const rank = parts[0]!.dims.length;
    const axis = normalize(node.getInt("axis"), rank);
    const outer = count(parts[0]!.dims.slice(0, axis));
    const values: number[] = [];
    for (let o = 0; o < outer; o++) {
      for (const p of parts) {
        const inner = count(p.dims.slice(axis));
        for (let i = 0; i < inner; i++) values.push(p.values[o * inner + i]!);
      }
    }
    const dims = [...parts[0]!.dims];
    dims[axis] = parts.reduce((s, p) => s + p.dims[axis]!, 0);
    return [{ dataType: parts[0]!.dataType, dims, values }];
  },
  Gather: (node, [x, indices]) => {
    if (!x || !indices) return undefined;
    const axis = normalize(node.getInt("axis", 0), x.dims.length);
    const size = x.dims[axis]!;
    const outer = count(x.dims.slice(0, axis));
    const inner = count(x.dims.slice(axis + 1));
    const values: number[] = [];
    for (let o = 0; o < outer; o++) {
      for (const raw of indices.values) {
        const idx = raw < 0 ? raw + size : raw;
        if (idx < 0 || idx >= size) return undefined;
        const base = (o * size + idx) * inner;
        for (let i = 0; i < inner; i++) values.push(x.values[base + i]!);
      }
    }
    const dims = [...x.dims.slice(0, axis), ...indices.dims, ...x.dims.slice(axis + 1)];
    return [{ dataType: x.dataType, dims, values }];
  },
  Unsqueeze: (node, [x, axesInput]) => {
    if (!x) return undefined;
    const axes = axesOf(node, axesInput);
    if (!axes) return undefined;
    const rank = x.dims.length + axes.length;
    const set = new Set(axes.map((a) => normalize(a, rank)));
    const dims: number[] = [];
    let k = 0;
    for (let i = 0; i < rank; i++) dims.push(set.has(i) ? 1 : x.dims[k++]!);
    return [reshapeTo(x, dims)];
  },
  Squeeze: (node, [x, axesInput]) => {
    if (!x) return undefined;
    const axes = axesOf(node, axesInput);
    const set = axes
      ? new Set(axes.map((a) => normalize(a, x.dims.length)))
      : new Set(x.dims.flatMap((d, i) => (d === 1 ? [i] : [])));
    return [
      reshapeTo(
        x,
        x.dims.filter((_, i) => !set.has(i)),
      ),
    ];
  },
  Reshape: (node, [x, shape]) => {
    if (!x || !shape) return undefined;
    const allowZero = node.getInt("allowzero", 0) === 1;
    const dims = shape.values.map((d, i) => (d === 0 && !allowZero ? x.dims[i]! : d));
    const known = dims.filter((d) => d !== -1);
    if (dims.length - known.length > 1) return undefined;
    const inferred = dims.map((d) => (d === -1 ? count(x.dims) / Math.max(1, count(known)) : d));
    if (count(inferred) !== count(x.dims) || inferred.some((d) => !Number.isInteger(d)))
      return undefined;
    return [reshapeTo(x, inferred)];
  },
  Flatten: (node, [x]) => {
    if (!x) return undefined;
    const axis = normalize(node.getInt("axis", 1), x.dims.length);
    return [reshapeTo(x, [count(x.dims.slice(0, axis)), count(x.dims.slice(axis))])];
  },
  Transpose: (node, [x]) => {
    if (!x) return undefined;
    const rank = x.dims.length;
    const perm = node.getInts(
      "perm",
      x.dims.map((_, i) => rank - 1 - i),
    );
    const dims = perm.map((p) => x.dims[p]!);
    const inStrides = strides(x.dims);
    const n = count(dims);
    const values = new Array<number>(n);
    const coord = new Array<number>(rank).fill(0);
    for (let i = 0; i < n; i++) {
      let at = 0;
      for (let d = 0; d < rank; d++) at += coord[d]! * inStrides[perm[d]!]!;
      values[i] = x.values[at]!;
      for (let d = rank - 1; d >= 0; d--) {
        if (++coord[d]! < dims[d]!) break;
        coord[d] = 0;
      }
    }
    return [{ dataType: x.dataType, dims, values }];
  },
  Expand: (_n, [x, shape]) => {
    if (!x || !shape) return undefined;
    const dims = broadcastDims([x.dims, shape.values]);
    if (!dims) return undefined;
    const index = broadcastIndex(x.dims, dims);
    return [{ dataType: x.dataType, dims, values: Array.from(index, (at) => x.values[at]!) }];
  },
  Tile: (_n, [x, repeats]) => {
    if (!x || !repeats) return undefined;
    const dims = x.dims.map((d, i) => d * repeats.values[i]!);
    const inStrides = strides(x.dims);
    const n = count(dims);
    const values = new Array<number>(n);
    const coord = new Array<number>(dims.length).fill(0);
    for (let i = 0; i < n; i++) {
      let at = 0;
      for (let d = 0; d < dims.length; d++) at += (coord[d]! % x.dims[d]!) * inStrides[d]!;
      values[i] = x.values[at]!;
      for (let d = dims.length - 1; d >= 0; d--) {
        if (++coord[d]! < dims[d]!) break;
        coord[d] = 0;
      }
    }
    return [{ dataType: x.dataType, dims, values }];
  },
  ConstantOfShape: (node, [shape]) => {
    if (!shape) return undefined;
    const fill = constantOfValue(node);
    const dataType = fill?.dataType ?? DataType.FLOAT;
    const v = fill?.values[0] ?? 0;
    return [
      { dataType, dims: shape.values, values: new Array<number>(count(shape.values)).fill(v) },
    ];
  },
  Range: (_n, [start, limit, delta]) => {
    if (!start || !limit || !delta) return undefined;
    const s = start.values[0]!;
    const d = delta.values[0]!;
    if (d === 0) return undefined;
    const n = Math.max(Math.ceil((limit.values[0]! - s) / d), 0);
    const values = Array.from({ length: n }, (_, i) => castValue(s + i * d, start.dataType));
    return [{ dataType: start.dataType, dims: [n], values }];
  },
  Slice: (node, inputs, opset) => {
    const x = inputs[0];
    if (!x) return undefined;
    let starts: readonly number[];
    let ends: readonly number[];
    let axes: readonly number[] | undefined;
    let steps: readonly number[] | undefined;
    if (opset < 10) {
      starts = node.getInts("starts");
      ends = node.getInts("ends");
      axes = node.attribute("axes") ? node.getInts("axes") : undefined;
    } else {
      if (!inputs[1] || !inputs[2]) return undefined;
      starts = inputs[1].values;
      ends = inputs[2].values;
      axes = inputs[3]?.values;
      steps = inputs[4]?.values;
    }
    const rank = x.dims.length;
    const begin = x.dims.map(() => 0);
    const step = x.dims.map(() => 1);
    const dims = [...x.dims];
    for (let i = 0; i < starts.length; i++) {
      const axis = normalize(axes?.[i] ?? i, rank);
      const size = x.dims[axis]!;
      const st = steps?.[i] ?? 1;
      if (st === 0) return undefined;
      let b = starts[i]!;
      let e = ends[i]!;
      if (b < 0) b += size;
      if (e < 0) e += size;
      if (st > 0) {
        b = Math.min(Math.max(b, 0), size);
        e = Math.min(Math.max(e, 0), size);
        dims[axis] = Math.max(0, Math.ceil((e - b) / st));
      } else {
        b = Math.min(Math.max(b, -1), size - 1);
        e = Math.min(Math.max(e, -1), size - 1);
        dims[axis] = Math.max(0, Math.ceil((e - b) / st));
      }
      begin[axis] = b;
      step[axis] = st;
    }
    const inStrides = strides(x.dims);
    const n = count(dims);
    const values = new Array<number>(n);
    const coord = new Array<number>(rank).fill(0);
    for (let i = 0; i < n; i++) {
      let at = 0;
      for (let d = 0; d < rank; d++) at += (begin[d]! + coord[d]! * step[d]!) * inStrides[d]!;
      values[i] = x.values[at]!;
      for (let d = rank - 1; d >= 0; d--) {
        if (++coord[d]! < dims[d]!) break;
        coord[d] = 0;
      }
    }
    return [{ dataType: x.dataType, dims, values }];
  },
  ReduceProd: reduce(1, (a, b) => a * b),
  ReduceSum: reduce(0, (a, b) => a + b),
  ReduceMin: reduce(Number.POSITIVE_INFINITY, Math.min),
  ReduceMax: reduce(Number.NEGATIVE_INFINITY, Math.max),
};

function constantOfValue(node: Node): HostTensor | undefined {
  const a = node.attribute("value");
  return a?.value instanceof Tensor ? fromTensor(a.value) : undefined;
}
