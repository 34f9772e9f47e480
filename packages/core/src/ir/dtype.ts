import { errors } from "../diagnostics.js";

/** ONNX TensorProto.DataType numbers. */
export enum DataType {
  UNDEFINED = 0,
  FLOAT = 1,
  UINT8 = 2,
  INT8 = 3,
  UINT16 = 4,
  INT16 = 5,
  INT32 = 6,
  INT64 = 7,
  STRING = 8,
  BOOL = 9,
  FLOAT16 = 10,
  DOUBLE = 11,
  UINT32 = 12,
  UINT64 = 13,
  COMPLEX64 = 14,
  COMPLEX128 = 15,
  BFLOAT16 = 16,
  FLOAT8E4M3FN = 17,
  FLOAT8E4M3FNUZ = 18,
  FLOAT8E5M2 = 19,
  FLOAT8E5M2FNUZ = 20,
  UINT4 = 21,
  INT4 = 22,
  FLOAT4E2M1 = 23,
  FLOAT8E8M0 = 24,
  UINT2 = 25,
  INT2 = 26,
}

export interface DataTypeInfo {
  readonly type: DataType;
  /** Lowercase name as numpy and ONNX Runtime spell it: `float32`, `int64`, `bfloat16`. */
  readonly name: string;
  /** Bits per element: 0 for strings (their size varies) and UNDEFINED; complex counts both parts. */
  readonly bits: number;
  /** UNDEFINED is the only type of kind "undefined"; it has no elements to describe. */
  readonly kind: "float" | "int" | "uint" | "bool" | "string" | "complex" | "undefined";
}

const INFO = new Map<number, DataTypeInfo>(
  (
    [
      [DataType.UNDEFINED, "undefined", 0, "undefined"],
      [DataType.FLOAT, "float32", 32, "float"],
      [DataType.UINT8, "uint8", 8, "uint"],
      [DataType.INT8, "int8", 8, "int"],
      [DataType.UINT16, "uint16", 16, "uint"],
      [DataType.INT16, "int16", 16, "int"],
      [DataType.INT32, "int32", 32, "int"],
      [DataType.INT64, "int64", 64, "int"],
      [DataType.STRING, "string", 0, "string"],
      [DataType.BOOL, "bool", 8, "bool"],
      [DataType.FLOAT16, "float16", 16, "float"],
      [DataType.DOUBLE, "float64", 64, "float"],
      [DataType.UINT32, "uint32", 32, "uint"],
      [DataType.UINT64, "uint64", 64, "uint"],
      [DataType.COMPLEX64, "complex64", 64, "complex"],
      [DataType.COMPLEX128, "complex128", 128, "complex"],
      [DataType.BFLOAT16, "bfloat16", 16, "float"],
      [DataType.FLOAT8E4M3FN, "float8e4m3fn", 8, "float"],
      [DataType.FLOAT8E4M3FNUZ, "float8e4m3fnuz", 8, "float"],
      [DataType.FLOAT8E5M2, "float8e5m2", 8, "float"],
      [DataType.FLOAT8E5M2FNUZ, "float8e5m2fnuz", 8, "float"],
      [DataType.UINT4, "uint4", 4, "uint"],
      [DataType.INT4, "int4", 4, "int"],
      [DataType.FLOAT4E2M1, "float4e2m1", 4, "float"],
      [DataType.FLOAT8E8M0, "float8e8m0", 8, "float"],
      [DataType.UINT2, "uint2", 2, "uint"],
      [DataType.INT2, "int2", 2, "int"],
    ] as const
  ).map(([type, name, bits, kind]) => [type, Object.freeze({ type, name, bits, kind })]),
);

const BY_NAME = new Map<string, DataType>();
for (const { type, name } of INFO.values()) {
  // "undefined" is left out: a stringified JavaScript `undefined` must not pass as a type name.
  if (type !== DataType.UNDEFINED) BY_NAME.set(name, type);
}
BY_NAME.set("float", DataType.FLOAT).set("double", DataType.DOUBLE);

/** Facts about a data type; throws UNSUPPORTED_DATA_TYPE for numbers ONNX does not define. */
export function dataTypeInfo(type: DataType | number): DataTypeInfo {
  const info = INFO.get(type);
  if (!info) throw errors.unsupportedDataType("data type", type);
  return info;
}

/**
 * The data type of a name, case-insensitively: the names of `dataTypeInfo`, "float" and
 * "double", and so also the ONNX enum names (`FLOAT16`, `INT64`).
 */
export function dataTypeFromName(name: string): DataType {
  const type = BY_NAME.get(name.toLowerCase());
  if (type === undefined) {
    throw errors.irMisuse(
      `unknown data type name "${name}"; expected one of ${[...BY_NAME.keys()].join(", ")}`,
    );
  }
  return type;
}

/** Bytes that `count` elements take in raw_data (sub-byte types are packed, rounded up). */
export function byteLength(type: DataType, count: number): number {
  const { bits, name } = dataTypeInfo(type);
  if (bits === 0) throw errors.irMisuse(`${name} elements have no fixed byte size`);
  return Math.ceil((bits * count) / 8);
}

// Scalar conversions. Inputs are rounded to float32 first (through this scratch), as ONNX casts
// these types from float32.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * Rounds a finite float32 magnitude (its bits, sign cleared) to nearest, ties to even, in a
 * sign-magnitude format with `mantissaBits` and exponent `bias` and subnormals. The code it
 * returns may lie past the format's largest value: the caller decides what overflow means.
 */
function roundMagnitude(abs: number, mantissaBits: number, bias: number): number {
  const exponent = abs >>> 23;
  // float32 exponent field of the format's smallest normal value
  const minNormal = 128 - bias;
  let bits = abs;
  let shift = 23 - mantissaBits;
  let rebias = (127 - bias) << mantissaBits;
  if (exponent < minNormal) {
    // Subnormal in the format: shift the full significand further right.
    shift += minNormal - exponent;
    if (shift > 24) return 0; // below half the smallest subnormal
    bits = (abs & 0x7fffff) | 0x800000;
    rebias = 0;
  }
  const rounded = (bits + (1 << (shift - 1)) - 1 + ((bits >>> shift) & 1)) >>> shift;
  return rounded - rebias;
}

/** IEEE half-precision bits of `x`: ties to even, subnormals, overflow to ±inf, NaN kept. */
export function float32ToFloat16Bits(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const abs = bits & 0x7fffffff;
  if (abs > 0x7f800000) return sign | 0x7e00;
  const code = roundMagnitude(abs, 10, 15);
  return sign | (code > 0x7bff ? 0x7c00 : code);
}

let float16Values: Float32Array | undefined;

/** Every float16 code decoded: 256 KiB, built on first use, so decoding is one lookup. */
function float16Table(): Float32Array {
  if (float16Values) return float16Values;
  const table = new Float32Array(0x10000);
  for (let code = 0; code < 0x10000; code++) {
    const exponent = (code >> 10) & 0x1f;
    const mantissa = code & 0x3ff;
    let value: number;
    if (exponent === 0) value = mantissa * 2 ** -24;
    else if (exponent === 0x1f) value = mantissa === 0 ? Number.POSITIVE_INFINITY : Number.NaN;
    else value = (mantissa + 0x400) * 2 ** (exponent - 25);
    table[code] = code & 0x8000 ? -value : value;
  }
  float16Values = table;
  return table;
}

export function float16BitsToFloat32(bits: number): number {
  return float16Table()[bits & 0xffff]!;
}

/** bfloat16 bits of `x`, rounded to nearest even; a NaN stays a (quiet) NaN. */
export function float32ToBfloat16Bits(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  // Plain truncation could turn a NaN whose payload sits in the low bits into infinity.
  if ((bits & 0x7fffffff) > 0x7f800000) return (bits >>> 16) | 0x0040;
  return (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
}

export function bfloat16BitsToFloat32(bits: number): number {
  u32[0] = (bits & 0xffff) << 16;
  return f32[0]!;
}

export type Float8DataType =
  | DataType.FLOAT8E4M3FN
  | DataType.FLOAT8E4M3FNUZ
  | DataType.FLOAT8E5M2
  | DataType.FLOAT8E5M2FNUZ
  | DataType.FLOAT8E8M0;

/** A sign-exponent-mantissa float8 layout (all but E8M0), per the ONNX float8 document. */
interface Float8Format {
  readonly mantissaBits: number;
  readonly bias: number;
  /** Magnitude code of the largest finite value. The code after it is infinity in E5M2, NaN in E4M3FN. */
  readonly max: number;
  readonly infinity: boolean;
  /** FNUZ: no negative zero; 0x80 is the only NaN. */
  readonly fnuz: boolean;
}

const FLOAT8_FORMATS: Record<Exclude<Float8DataType, DataType.FLOAT8E8M0>, Float8Format> = {
  [DataType.FLOAT8E4M3FN]: { mantissaBits: 3, bias: 7, max: 0x7e, infinity: false, fnuz: false },
  [DataType.FLOAT8E4M3FNUZ]: { mantissaBits: 3, bias: 8, max: 0x7f, infinity: false, fnuz: true },
  [DataType.FLOAT8E5M2]: { mantissaBits: 2, bias: 15, max: 0x7b, infinity: true, fnuz: false },
  [DataType.FLOAT8E5M2FNUZ]: { mantissaBits: 2, bias: 16, max: 0x7f, infinity: false, fnuz: true },
};

const FNUZ_NAN = 0x80;

/**
 * Rounds to nearest even; what rounds past the largest finite value (infinity included) becomes
 * ±max with `saturate`, else NaN (±inf in E5M2). NaN keeps its sign where the format has one.
 */
function encodeFloat8(format: Float8Format, x: number, saturate: boolean): number {
  f32[0] = x;
  const bits = u32[0]!;
  const sign = (bits >>> 24) & 0x80;
  const abs = bits & 0x7fffffff;
  if (abs > 0x7f800000) return format.fnuz ? FNUZ_NAN : sign | 0x7f;
  let code = roundMagnitude(abs, format.mantissaBits, format.bias);
  if (code > format.max) {
    if (!saturate) return format.fnuz ? FNUZ_NAN : sign | (format.max + 1);
    code = format.max;
  }
  return format.fnuz && code === 0 ? 0 : sign | code;
}

/**
 * E8M0 (an unsigned power of two 2^(code-127), 0xFF = NaN) with the ONNX default round mode,
 * "up": the smallest power of two not below |x|, as ONNX's reference `to_float8e8m0` rounds. Like
 * that reference it takes the magnitude, maps zero to the smallest code and infinity to NaN.
 */
function float32ToE8m0Bits(x: number, saturate: boolean): number {
  f32[0] = x;
  const abs = u32[0]! & 0x7fffffff;
  if (abs >= 0x7f800000) return 0xff;
  if (abs <= 0x00400000) return 0; // up to 2^-127, a float32 subnormal
  const exponent = abs >>> 23;
  if (exponent === 0) return 1; // the rest of the subnormals round up to 2^-126
  const code = exponent + ((abs & 0x7fffff) === 0 ? 0 : 1);
  if (code === 0xff) return saturate ? 0xfe : 0xff;
  return code;
}

const float8Values = new Map<Float8DataType, Float32Array>();

/** All 256 codes of a float8 type decoded, built on first use. */
function float8Table(type: Float8DataType): Float32Array {
  let table = float8Values.get(type);
  if (table) return table;
  table = new Float32Array(256);
  if (type === DataType.FLOAT8E8M0) {
    for (let code = 0; code < 255; code++) table[code] = 2 ** (code - 127);
    table[0xff] = Number.NaN;
  } else {
    const { mantissaBits, bias, max, infinity, fnuz } = FLOAT8_FORMATS[type];
    for (let code = 0; code < 256; code++) {
      const magnitude = code & 0x7f;
      const exponent = magnitude >> mantissaBits;
      const mantissa = magnitude & ((1 << mantissaBits) - 1);
      let value: number;
      if (magnitude > max) {
        value = infinity && magnitude === max + 1 ? Number.POSITIVE_INFINITY : Number.NaN;
      } else if (exponent === 0) {
        value = mantissa * 2 ** (1 - bias - mantissaBits);
      } else {
        value = (mantissa + (1 << mantissaBits)) * 2 ** (exponent - bias - mantissaBits);
      }
      table[code] = code & 0x80 ? -value : value;
    }
    if (fnuz) table[FNUZ_NAN] = Number.NaN;
  }
  float8Values.set(type, table);
  return table;
}

export function float8BitsToFloat32(type: Float8DataType, bits: number): number {
  return float8Table(type)[bits & 0xff]!;
}

/** Float8 bits of `x`, rounded per the ONNX spec; see `encodeFloat8` and `float32ToE8m0Bits`. */
export function float32ToFloat8Bits(type: Float8DataType, x: number, saturate = true): number {
  return type === DataType.FLOAT8E8M0
    ? float32ToE8m0Bits(x, saturate)
    : encodeFloat8(FLOAT8_FORMATS[type], x, saturate);
}

/** The 16 FLOAT4E2M1 codes: the magnitudes of codes 0-7, then the same with sign bit 0x8. */
const FLOAT4_MAGNITUDES = [0, 0.5, 1, 1.5, 2, 3, 4, 6];
const FLOAT4_VALUES = Float32Array.from([
  ...FLOAT4_MAGNITUDES,
  ...FLOAT4_MAGNITUDES.map((v) => -v),
]);

export function float4e2m1BitsToFloat32(bits: number): number {
  return FLOAT4_VALUES[bits & 0xf]!;
}

/** FLOAT4E2M1 bits of `x`: nearest even, always saturating at ±6; NaN becomes +6 per ONNX. */
export function float32ToFloat4e2m1Bits(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  const abs = bits & 0x7fffffff;
  if (abs > 0x7f800000) return 0x7;
  const code = roundMagnitude(abs, 1, 1);
  return ((bits >>> 28) & 0x8) | Math.min(code, 0x7);
}

/**
 * Decoded elements: float16, bfloat16, float8 and float4 widen to Float32Array; sub-byte integers
 * unpack to Int8Array/Uint8Array; complex types interleave real and imaginary parts.
 */
export type ElementArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

interface ElementArrayConstructor<T extends ElementArray> {
  readonly BYTES_PER_ELEMENT: number;
  new (length: number): T;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): T;
}

/**
 * Decodes `count` elements from little-endian raw bytes (ONNX raw_data layout). Native types come
 * back as a view of `bytes` when its offset is aligned (writes then go through to `bytes`), else
 * as an aligned copy; the other types are always decoded into new memory.
 */
export function decodeElements(type: DataType, bytes: Uint8Array, count: number): ElementArray {
  const need = byteLength(type, count);
  if (bytes.length < need) {
    throw errors.irMisuse(
      `${bytes.length} bytes hold fewer than ${count} ${dataTypeInfo(type).name} elements (${need} bytes needed)`,
    );
  }
  switch (type) {
    case DataType.FLOAT:
      return native(Float32Array, bytes, count);
    case DataType.COMPLEX64:
      return native(Float32Array, bytes, 2 * count);
    case DataType.DOUBLE:
      return native(Float64Array, bytes, count);
    case DataType.COMPLEX128:
      return native(Float64Array, bytes, 2 * count);
    case DataType.UINT8:
    case DataType.BOOL:
      return native(Uint8Array, bytes, count);
    case DataType.INT8:
      return native(Int8Array, bytes, count);
    case DataType.UINT16:
      return native(Uint16Array, bytes, count);
    case DataType.INT16:
      return native(Int16Array, bytes, count);
    case DataType.INT32:
      return native(Int32Array, bytes, count);
    case DataType.UINT32:
      return native(Uint32Array, bytes, count);
    case DataType.INT64:
      return native(BigInt64Array, bytes, count);
    case DataType.UINT64:
      return native(BigUint64Array, bytes, count);
    case DataType.FLOAT16: {
      const codes = native(Uint16Array, bytes, count);
      const table = float16Table();
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = table[codes[i]!]!;
      return out;
    }
    case DataType.BFLOAT16: {
      const codes = native(Uint16Array, bytes, count);
      const out = new Float32Array(count);
      const outBits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) outBits[i] = codes[i]! << 16;
      return out;
    }
    case DataType.FLOAT8E4M3FN:
    case DataType.FLOAT8E4M3FNUZ:
    case DataType.FLOAT8E5M2:
    case DataType.FLOAT8E5M2FNUZ:
    case DataType.FLOAT8E8M0: {
      const table = float8Table(type);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = table[bytes[i]!]!;
      return out;
    }
    case DataType.FLOAT4E2M1: {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        out[i] = FLOAT4_VALUES[(bytes[i >>> 1]! >> ((i & 1) << 2)) & 0xf]!;
      }
      return out;
    }
    case DataType.INT4:
      return unpack(bytes, count, 4, true);
    case DataType.UINT4:
      return unpack(bytes, count, 4, false);
    case DataType.INT2:
      return unpack(bytes, count, 2, true);
    case DataType.UINT2:
      return unpack(bytes, count, 2, false);
    default:
      throw errors.irMisuse(`${dataTypeInfo(type).name} elements cannot be decoded as numbers`);
  }
}

/** `length` elements over the start of `bytes`: a view when aligned, else an aligned copy. */
function native<T extends ElementArray>(
  ArrayType: ElementArrayConstructor<T>,
  bytes: Uint8Array,
  length: number,
): T {
  const size = ArrayType.BYTES_PER_ELEMENT;
  if (bytes.byteOffset % size === 0) return new ArrayType(bytes.buffer, bytes.byteOffset, length);
  const out = new ArrayType(length);
  new Uint8Array(out.buffer).set(bytes.subarray(0, length * size));
  return out;
}

/** Sub-byte integers (4 or 2 bits), first element in the low bits; `signed` sign-extends. */
function unpack(bytes: Uint8Array, count: number, bits: 4 | 2, signed: boolean): ElementArray {
  const out = signed ? new Int8Array(count) : new Uint8Array(count);
  const perByteLog2 = bits === 4 ? 1 : 2;
  const lane = (1 << perByteLog2) - 1;
  const mask = (1 << bits) - 1;
  // (v ^ half) - half sign-extends a `bits`-wide value; half = 0 leaves it unsigned.
  const half = signed ? 1 << (bits - 1) : 0;
  for (let i = 0; i < count; i++) {
    const v = (bytes[i >>> perByteLog2]! >> ((i & lane) * bits)) & mask;
    out[i] = (v ^ half) - half;
  }
  return out;
}

/**
 * Encodes element values as little-endian raw bytes, into a new array of exactly
 * `byteLength(type, n)` bytes (for complex types `values` interleaves n real and imaginary pairs).
 * Narrow float types round to nearest even and saturate as `float32ToFloat8Bits` does; integers
 * wrap like typed-array stores; sub-byte integers keep their low bits, first element lowest;
 * bool stores 0 or 1; 64-bit integers take bigints or integral numbers.
 */
export function encodeElements(
  type: DataType,
  values: ArrayLike<number> | ArrayLike<bigint>,
): Uint8Array {
  const n = values.length;
  const numbers = values as ArrayLike<number>;
  switch (type) {
    case DataType.FLOAT:
      return converted(new Float32Array(n), numbers);
    case DataType.DOUBLE:
      return converted(new Float64Array(n), numbers);
    case DataType.COMPLEX64:
    case DataType.COMPLEX128: {
      if (n % 2 !== 0) {
        throw errors.irMisuse(`${n} values cannot interleave real and imaginary parts`);
      }
      const out = type === DataType.COMPLEX64 ? new Float32Array(n) : new Float64Array(n);
      return converted(out, numbers);
    }
    case DataType.UINT8:
      return converted(new Uint8Array(n), numbers);
    case DataType.INT8:
      return converted(new Int8Array(n), numbers);
    case DataType.UINT16:
      return converted(new Uint16Array(n), numbers);
    case DataType.INT16:
      return converted(new Int16Array(n), numbers);
    case DataType.INT32:
      return converted(new Int32Array(n), numbers);
    case DataType.UINT32:
      return converted(new Uint32Array(n), numbers);
    case DataType.INT64:
    case DataType.UINT64: {
      const out = type === DataType.INT64 ? new BigInt64Array(n) : new BigUint64Array(n);
      for (let i = 0; i < n; i++) {
        const v = values[i]!;
        out[i] = typeof v === "bigint" ? v : BigInt(v);
      }
      return new Uint8Array(out.buffer);
    }
    case DataType.BOOL: {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = values[i] ? 1 : 0;
      return out;
    }
    case DataType.FLOAT16: {
      const out = new Uint16Array(n);
      for (let i = 0; i < n; i++) out[i] = float32ToFloat16Bits(numbers[i]!);
      return new Uint8Array(out.buffer);
    }
    case DataType.BFLOAT16: {
      const out = new Uint16Array(n);
      for (let i = 0; i < n; i++) out[i] = float32ToBfloat16Bits(numbers[i]!);
      return new Uint8Array(out.buffer);
    }
    case DataType.FLOAT8E8M0: {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = float32ToE8m0Bits(numbers[i]!, true);
      return out;
    }
    case DataType.FLOAT8E4M3FN:
    case DataType.FLOAT8E4M3FNUZ:
    case DataType.FLOAT8E5M2:
    case DataType.FLOAT8E5M2FNUZ: {
      const format = FLOAT8_FORMATS[type];
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = encodeFloat8(format, numbers[i]!, true);
      return out;
    }
    case DataType.FLOAT4E2M1: {
      const out = new Uint8Array((n + 1) >>> 1);
      for (let i = 0; i < n; i++) {
        out[i >>> 1]! |= float32ToFloat4e2m1Bits(numbers[i]!) << ((i & 1) << 2);
      }
      return out;
    }
    case DataType.INT4:
    case DataType.UINT4:
      return pack(numbers, 4);
    case DataType.INT2:
    case DataType.UINT2:
      return pack(numbers, 2);
    default:
      throw errors.irMisuse(`${dataTypeInfo(type).name} elements cannot be encoded from numbers`);
  }
}

/** Stores `values` into `out` with typed-array conversion, and returns its bytes. */
function converted(
  out: Exclude<ElementArray, BigInt64Array | BigUint64Array>,
  values: ArrayLike<number>,
): Uint8Array {
  out.set(values);
  return new Uint8Array(out.buffer);
}

function pack(values: ArrayLike<number>, bits: 4 | 2): Uint8Array {
  const n = values.length;
  const perByteLog2 = bits === 4 ? 1 : 2;
  const lane = (1 << perByteLog2) - 1;
  const mask = (1 << bits) - 1;
  const out = new Uint8Array((n + lane) >>> perByteLog2);
  for (let i = 0; i < n; i++) {
    out[i >>> perByteLog2]! |= (values[i]! & mask) << ((i & lane) * bits);
  }
  return out;
}
