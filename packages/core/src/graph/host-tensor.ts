import { DataType } from "../ir/dtype.js";
import { Tensor } from "../ir/tensor.js";

/**
 * A small tensor as plain numbers, for evaluating shape arithmetic in TypeScript: int64 values
 * beyond 2^53 are approximate (exporters' INT64_MAX "to the end" still clamps correctly), and
 * results that would need them exactly are not produced (`toTensor` declines).
 */
export interface HostTensor {
  readonly dataType: DataType;
  readonly dims: readonly number[];
  readonly values: readonly number[];
}

const INTEGER_TYPES = new Set([
  DataType.INT8,
  DataType.INT16,
  DataType.INT32,
  DataType.INT64,
  DataType.UINT8,
  DataType.UINT16,
  DataType.UINT32,
  DataType.UINT64,
]);

/** The types the TypeScript evaluator computes with (anything else folds on ORT or not at all). */
const HOST_TYPES = new Set([
  ...INTEGER_TYPES,
  DataType.FLOAT,
  DataType.DOUBLE,
  DataType.FLOAT16,
  DataType.BOOL,
]);

export function isIntegerType(type: DataType): boolean {
  return INTEGER_TYPES.has(type);
}

export function isHostType(type: DataType): boolean {
  return HOST_TYPES.has(type);
}

/** The tensor's elements as numbers, or undefined for types the evaluator does not handle. */
export function fromTensor(tensor: Tensor): HostTensor | undefined {
  if (!HOST_TYPES.has(tensor.dataType)) return undefined;
  const values = Array.from(tensor.toArray() as ArrayLike<number | bigint>, Number);
  return { dataType: tensor.dataType, dims: tensor.dims, values };
}

/** A Tensor of the result, or undefined when an integer is out of its type's exact range. */
export function toTensor(host: HostTensor, name = ""): Tensor | undefined {
  if (INTEGER_TYPES.has(host.dataType)) {
    for (const v of host.values)
      if (!Number.isSafeInteger(v) || !fitsInteger(host.dataType, v)) return undefined;
  }
  return Tensor.fromArray(host.dataType, host.dims, host.values, { name });
}

function fitsInteger(type: DataType, v: number): boolean {
  switch (type) {
    case DataType.INT8:
      return v >= -128 && v <= 127;
    case DataType.UINT8:
      return v >= 0 && v <= 255;
    case DataType.INT16:
      return v >= -32768 && v <= 32767;
    case DataType.UINT16:
      return v >= 0 && v <= 65535;
    case DataType.INT32:
      return v >= -2147483648 && v <= 2147483647;
    case DataType.UINT32:
      return v >= 0 && v <= 4294967295;
    default:
      return true;
  }
}

export function count(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

export function strides(dims: readonly number[]): number[] {
  const out = new Array<number>(dims.length);
  let s = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    out[i] = s;
    s *= dims[i]!;
  }
  return out;
}

/** Numpy-style broadcast of shapes; undefined when they do not broadcast. */
export function broadcastDims(shapes: readonly (readonly number[])[]): number[] | undefined {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const at = rank - s.length + i;
      const d = s[i]!;
      if (d === out[at]) continue;
      if (out[at] === 1) out[at] = d;
      else if (d !== 1) return undefined;
    }
  }
  return out;
}

/** For each output position, the index read from an input of shape `dims` broadcast to `out`. */
export function broadcastIndex(dims: readonly number[], out: readonly number[]): Int32Array {
  const n = count(out);
  const index = new Int32Array(n);
  const inStrides = strides(dims);
  const offset = out.length - dims.length;
  const coord = new Array<number>(out.length).fill(0);
  for (let i = 0; i < n; i++) {
    let at = 0;
    for (let d = 0; d < dims.length; d++) {
      if (dims[d] !== 1) at += coord[d + offset]! * inStrides[d]!;
    }
    index[i] = at;
    for (let d = out.length - 1; d >= 0; d--) {
      if (++coord[d]! < out[d]!) break;
      coord[d] = 0;
    }
  }
  return index;
}

/** Rounds a computed value to what its element type can hold. */
export function castValue(v: number, to: DataType): number {
  switch (to) {
    case DataType.BOOL:
      return v !== 0 && !Number.isNaN(v) ? 1 : 0;
    case DataType.FLOAT:
      return Math.fround(v);
    case DataType.DOUBLE:
    case DataType.FLOAT16:
      return v;
    default:
      return Number.isFinite(v) ? Math.trunc(v) : Number.NaN;
  }
}
