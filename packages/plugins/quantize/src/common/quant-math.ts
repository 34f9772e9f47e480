import { DataType } from "@lathe/core";

/** An 8-bit integer type as ONNX names it. */
export type Int8Kind = "int8" | "uint8";

export interface QuantRange {
  readonly qmin: number;
  readonly qmax: number;
}

/**
 * The integer range of a type. `reduceRange` keeps 7 bits: U8S8 kernels on AVX2/AVX-512 without
 * VNNI add pairs of u8·s8 products in int16 (VPMADDUBSW), which saturates with full-range weights.
 */
export function quantRange(kind: Int8Kind, reduceRange = false): QuantRange {
  if (kind === "int8") return reduceRange ? { qmin: -64, qmax: 63 } : { qmin: -128, qmax: 127 };
  return reduceRange ? { qmin: 0, qmax: 127 } : { qmin: 0, qmax: 255 };
}

export function onnxType(kind: Int8Kind): DataType {
  return kind === "int8" ? DataType.INT8 : DataType.UINT8;
}

/**
 * Scale and zero point that map [min, max] (widened to hold 0, so zero is exact) onto the
 * integer range. Symmetric ranges are ±max|x| with the zero point in the middle of the type.
 */
export function scaleAndZeroPoint(
  min: number,
  max: number,
  range: QuantRange,
  symmetric: boolean,
): { scale: number; zeroPoint: number } {
  let lo = Math.min(min, 0);
  let hi = Math.max(max, 0);
  const { qmin, qmax } = range;
  if (symmetric) {
    const absMax = Math.max(Math.abs(lo), Math.abs(hi));
    lo = -absMax;
    hi = absMax;
    // For int8 [-127,127] (qmin -128 unused) keeps the zero point at 0, as ORT does.
    const half = qmin < 0 ? Math.min(-qmin, qmax) : (qmax - qmin) / 2;
    const scale = absMax / half || 1;
    const zeroPoint = qmin < 0 ? 0 : Math.round((qmin + qmax + 1) / 2);
    return { scale, zeroPoint };
  }
  const scale = (hi - lo) / (qmax - qmin) || 1;
  const zeroPoint = clamp(Math.round(qmin - lo / scale), qmin, qmax);
  return { scale, zeroPoint };
}

export function quantizeValue(x: number, scale: number, zeroPoint: number, r: QuantRange): number {
  // Math.round rounds .5 up; ONNX QuantizeLinear rounds half to even. Weights only need
  // *a* nearest integer: DequantizeLinear reads back exactly what is stored.
  return clamp(Math.round(x / scale) + zeroPoint, r.qmin, r.qmax);
}

export function clamp(x: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, x));
}

/** A weight quantized along one axis (per channel) or as a whole (one scale). */
export interface QuantizedWeight {
  readonly values: Int8Array | Uint8Array;
  readonly dims: readonly number[];
  /** One entry per channel of `axis`, or one entry when per tensor. */
  readonly scales: Float32Array;
  readonly zeroPoints: Int8Array | Uint8Array;
  /** The channel axis, or undefined for per tensor. */
  readonly axis: number | undefined;
  readonly kind: Int8Kind;
}

export interface WeightQuantOptions {
  readonly kind: Int8Kind;
  readonly symmetric: boolean;
  readonly reduceRange: boolean;
  /** Channel axis for per-channel scales; undefined for one scale. */
  readonly axis: number | undefined;
}

/** Quantizes a float weight, channel by channel along `axis` when given. */
export function quantizeWeight(
  data: Float32Array,
  dims: readonly number[],
  options: WeightQuantOptions,
): QuantizedWeight {
  const { kind, symmetric, reduceRange, axis } = options;
  const range = quantRange(kind, reduceRange);
  const channels = axis === undefined ? 1 : (dims[axis] ?? 1);
  // Elements of one channel are `inner` apart in runs of `inner`, `outer` runs.
  const inner = axis === undefined ? data.length : dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = axis === undefined ? 1 : dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const mins = new Float64Array(channels).fill(Number.POSITIVE_INFINITY);
  const maxs = new Float64Array(channels).fill(Number.NEGATIVE_INFINITY);
  forEachChannel(outer, channels, inner, (c, i) => {
    const x = data[i]!;
    if (x < mins[c]!) mins[c] = x;
    if (x > maxs[c]!) maxs[c] = x;
  });
  const scales = new Float32Array(channels);
  const zeroPoints = kind === "int8" ? new Int8Array(channels) : new Uint8Array(channels);
  for (let c = 0; c < channels; c++) {
    const lo = Number.isFinite(mins[c]!) ? mins[c]! : 0;
    const hi = Number.isFinite(maxs[c]!) ? maxs[c]! : 0;
    const { scale, zeroPoint } = scaleAndZeroPoint(lo, hi, range, symmetric);
    // Stored as float32: quantize with the float32 value ORT will read back.
    scales[c] = scale;
    zeroPoints[c] = zeroPoint;
  }
  const values = kind === "int8" ? new Int8Array(data.length) : new Uint8Array(data.length);
  forEachChannel(outer, channels, inner, (c, i) => {
    values[i] = quantizeValue(data[i]!, scales[c]!, zeroPoints[c]!, range);
  });
  return { values, dims, scales, zeroPoints, axis, kind };
}

function forEachChannel(
  outer: number,
  channels: number,
  inner: number,
  visit: (channel: number, index: number) => void,
): void {
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      for (let k = 0; k < inner; k++) visit(c, i++);
    }
  }
}

/** The float values a quantized weight stands for (the reference for tests and error checks). */
export function dequantizeWeight(q: QuantizedWeight): Float32Array {
  const out = new Float32Array(q.values.length);
  const channels = q.scales.length;
  const inner =
    q.axis === undefined ? q.values.length : q.dims.slice(q.axis + 1).reduce((a, b) => a * b, 1);
  for (let i = 0; i < out.length; i++) {
    const c = q.axis === undefined ? 0 : Math.floor(i / inner) % channels;
    out[i] = (q.values[i]! - q.zeroPoints[c]!) * q.scales[c]!;
  }
  return out;
}

/** Transposes a row-major [rows, cols] matrix. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  }
  return out;
}
