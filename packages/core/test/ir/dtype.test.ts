import { describe, expect, it } from "vitest";
import {
  bfloat16BitsToFloat32,
  byteLength,
  DataType,
  dataTypeFromName,
  dataTypeInfo,
  decodeElements,
  type ElementArray,
  encodeElements,
  type Float8DataType,
  float4e2m1BitsToFloat32,
  float8BitsToFloat32,
  float16BitsToFloat32,
  float32ToBfloat16Bits,
  float32ToFloat4e2m1Bits,
  float32ToFloat8Bits,
  float32ToFloat16Bits,
} from "../../src/ir/dtype.js";

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

function float32FromBits(bits: number): number {
  scratchBits[0] = bits;
  return scratch[0]!;
}

function float32Bits(x: number): number {
  scratch[0] = x;
  return scratchBits[0]!;
}

/** The float32 neighbours of a positive float32 value. */
const nextUp = (x: number) => float32FromBits(float32Bits(x) + 1);
const nextDown = (x: number) => float32FromBits(float32Bits(x) - 1);

/**
 * Checks round-to-nearest-even against the codes themselves: for consecutive positive codes, the
 * midpoint of their values goes to the even code, and the float32 values either side of it to
 * the nearer code. Returns the mismatches, to compare with [] in one assertion.
 */
function roundingMismatches(
  codes: readonly number[],
  decode: (code: number) => number,
  encode: (x: number) => number,
): string[] {
  const bad: string[] = [];
  for (let i = 0; i + 1 < codes.length; i++) {
    const lo = codes[i]!;
    const hi = codes[i + 1]!;
    const mid = (decode(lo) + decode(hi)) / 2;
    if (Math.fround(mid) !== mid) bad.push(`midpoint ${mid} is not a float32`);
    const cases: [number, number][] = [
      [mid, lo % 2 === 0 ? lo : hi],
      [nextUp(mid), hi],
      [nextDown(mid), lo],
    ];
    for (const [x, want] of cases) {
      const got = encode(x);
      if (got !== want) bad.push(`${x} -> ${got.toString(16)}, want ${want.toString(16)}`);
    }
  }
  return bad;
}

/** The elements of a decoded array, numbers or bigints, as a plain array. */
const list = (array: ElementArray) => Array.from(array as ArrayLike<number | bigint>);

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe("DataType", () => {
  it("has the ONNX TensorProto.DataType numbers", () => {
    const entries = Object.entries(DataType).filter(([, v]) => typeof v === "number");
    expect(Object.fromEntries(entries)).toEqual({
      UNDEFINED: 0,
      FLOAT: 1,
      UINT8: 2,
      INT8: 3,
      UINT16: 4,
      INT16: 5,
      INT32: 6,
      INT64: 7,
      STRING: 8,
      BOOL: 9,
      FLOAT16: 10,
      DOUBLE: 11,
      UINT32: 12,
      UINT64: 13,
      COMPLEX64: 14,
      COMPLEX128: 15,
      BFLOAT16: 16,
      FLOAT8E4M3FN: 17,
      FLOAT8E4M3FNUZ: 18,
      FLOAT8E5M2: 19,
      FLOAT8E5M2FNUZ: 20,
      UINT4: 21,
      INT4: 22,
      FLOAT4E2M1: 23,
      FLOAT8E8M0: 24,
      UINT2: 25,
      INT2: 26,
    });
  });
});

describe("dataTypeInfo", () => {
  it("names every type and gives its bits and kind", () => {
    expect(range(0, 27).map((t) => dataTypeInfo(t).name)).toEqual(
      [
        "undefined float32 uint8 int8 uint16 int16 int32 int64 string bool float16 float64 uint32",
        "uint64 complex64 complex128 bfloat16 float8e4m3fn float8e4m3fnuz float8e5m2",
        "float8e5m2fnuz uint4 int4 float4e2m1 float8e8m0 uint2 int2",
      ]
        .join(" ")
        .split(" "),
    );
    expect(dataTypeInfo(DataType.FLOAT)).toEqual({
      type: DataType.FLOAT,
      name: "float32",
      bits: 32,
      kind: "float",
    });
    const facts = (t: DataType) => [dataTypeInfo(t).bits, dataTypeInfo(t).kind];
    expect(facts(DataType.STRING)).toEqual([0, "string"]);
    expect(facts(DataType.BOOL)).toEqual([8, "bool"]);
    expect(facts(DataType.COMPLEX64)).toEqual([64, "complex"]);
    expect(facts(DataType.COMPLEX128)).toEqual([128, "complex"]);
    expect(facts(DataType.UINT2)).toEqual([2, "uint"]);
    expect(facts(DataType.INT4)).toEqual([4, "int"]);
    expect(facts(DataType.FLOAT4E2M1)).toEqual([4, "float"]);
  });

  it("throws for numbers ONNX does not define", () => {
    expect(() => dataTypeInfo(99)).toThrow("unknown ONNX data type 99");
    expect(() => dataTypeInfo(-1)).toThrow("unknown ONNX data type -1");
  });
});

describe("dataTypeFromName", () => {
  it("reads names, the float/double aliases and ONNX enum names", () => {
    expect(dataTypeFromName("float32")).toBe(DataType.FLOAT);
    expect(dataTypeFromName("float")).toBe(DataType.FLOAT);
    expect(dataTypeFromName("double")).toBe(DataType.DOUBLE);
    expect(dataTypeFromName("float64")).toBe(DataType.DOUBLE);
    expect(dataTypeFromName("bfloat16")).toBe(DataType.BFLOAT16);
    expect(dataTypeFromName("FLOAT8E4M3FN")).toBe(DataType.FLOAT8E4M3FN);
    for (const t of range(1, 27)) expect(dataTypeFromName(dataTypeInfo(t).name)).toBe(t);
  });

  it("throws with the valid names", () => {
    expect(() => dataTypeFromName("float33")).toThrow(
      /unknown data type name "float33"; expected one of float32, uint8, .*int2, float, double$/,
    );
    expect(() => dataTypeFromName("undefined")).toThrow(/unknown data type name "undefined"/);
  });
});

describe("byteLength", () => {
  it("packs sub-byte types and rounds up", () => {
    expect(byteLength(DataType.FLOAT, 3)).toBe(12);
    expect(byteLength(DataType.COMPLEX64, 2)).toBe(16);
    expect(byteLength(DataType.COMPLEX128, 1)).toBe(16);
    expect(byteLength(DataType.BOOL, 5)).toBe(5);
    expect(byteLength(DataType.INT4, 3)).toBe(2);
    expect(byteLength(DataType.FLOAT4E2M1, 4)).toBe(2);
    expect(byteLength(DataType.UINT2, 5)).toBe(2);
    expect(byteLength(DataType.INT2, 8)).toBe(2);
    expect(byteLength(DataType.INT64, 0)).toBe(0);
  });

  it("throws for strings and UNDEFINED", () => {
    expect(() => byteLength(DataType.STRING, 1)).toThrow("string elements have no fixed byte size");
    expect(() => byteLength(DataType.UNDEFINED, 1)).toThrow(/undefined elements/);
  });
});

describe("float16", () => {
  it("encodes known values", () => {
    expect(float32ToFloat16Bits(1)).toBe(0x3c00);
    expect(float32ToFloat16Bits(-2)).toBe(0xc000);
    expect(float32ToFloat16Bits(65504)).toBe(0x7bff);
    expect(float32ToFloat16Bits(2 ** -14)).toBe(0x0400);
    expect(float32ToFloat16Bits(2 ** -24)).toBe(0x0001);
    expect(float32ToFloat16Bits(1 / 3)).toBe(0x3555);
    expect(float32ToFloat16Bits(0)).toBe(0x0000);
    expect(float32ToFloat16Bits(-0)).toBe(0x8000);
  });

  it("rounds ties to even, in normals and subnormals", () => {
    // Above 2048 the spacing is 2: 2049 and 2051 are ties.
    expect(float32ToFloat16Bits(2049)).toBe(float32ToFloat16Bits(2048));
    expect(float32ToFloat16Bits(2051)).toBe(float32ToFloat16Bits(2052));
    expect(float16BitsToFloat32(float32ToFloat16Bits(2049))).toBe(2048);
    expect(float32ToFloat16Bits(2 ** -25)).toBe(0x0000);
    expect(float32ToFloat16Bits(3 * 2 ** -25)).toBe(0x0002);
    expect(float32ToFloat16Bits(2 ** -25 * 1.0001)).toBe(0x0001);
  });

  it("overflows to infinity from 65520 and keeps infinities and NaN", () => {
    expect(float32ToFloat16Bits(65519)).toBe(0x7bff);
    expect(float32ToFloat16Bits(65520)).toBe(0x7c00);
    expect(float32ToFloat16Bits(-1e6)).toBe(0xfc00);
    expect(float32ToFloat16Bits(Number.POSITIVE_INFINITY)).toBe(0x7c00);
    const nan = float32ToFloat16Bits(Number.NaN);
    expect(nan & 0x7c00).toBe(0x7c00);
    expect(nan & 0x03ff).not.toBe(0);
  });

  it("decodes known codes", () => {
    expect(float16BitsToFloat32(0x3c00)).toBe(1);
    expect(float16BitsToFloat32(0x7bff)).toBe(65504);
    expect(float16BitsToFloat32(0x0001)).toBe(2 ** -24);
    expect(float16BitsToFloat32(0x03ff)).toBe(1023 * 2 ** -24);
    expect(float16BitsToFloat32(0x7c00)).toBe(Number.POSITIVE_INFINITY);
    expect(float16BitsToFloat32(0xfc00)).toBe(Number.NEGATIVE_INFINITY);
    expect(float16BitsToFloat32(0x8000)).toBe(-0);
    expect(float16BitsToFloat32(0x7e00)).toBeNaN();
  });

  it("round-trips all 65536 codes (NaNs stay NaN)", () => {
    const bad: number[] = [];
    for (let code = 0; code < 0x10000; code++) {
      const value = float16BitsToFloat32(code);
      const back = float32ToFloat16Bits(value);
      const ok = Number.isNaN(value) ? Number.isNaN(float16BitsToFloat32(back)) : back === code;
      if (!ok) bad.push(code);
    }
    expect(bad).toEqual([]);
  });

  it("rounds every midpoint between neighbouring codes to the even one", () => {
    const positive = range(0, 0x7c00);
    expect(roundingMismatches(positive, float16BitsToFloat32, float32ToFloat16Bits)).toEqual([]);
  });
});

describe("bfloat16", () => {
  it("encodes and decodes known values", () => {
    expect(float32ToBfloat16Bits(1)).toBe(0x3f80);
    expect(float32ToBfloat16Bits(-2.5)).toBe(0xc020);
    expect(bfloat16BitsToFloat32(0x3f80)).toBe(1);
    expect(bfloat16BitsToFloat32(0xc049)).toBe(-3.140625);
    expect(float32ToBfloat16Bits(Number.NEGATIVE_INFINITY)).toBe(0xff80);
  });

  it("rounds to nearest, ties to even", () => {
    expect(float32ToBfloat16Bits(1 + 2 ** -8)).toBe(0x3f80);
    expect(float32ToBfloat16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(float32ToBfloat16Bits(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81);
    // The largest float32 rounds up to infinity.
    expect(float32ToBfloat16Bits(float32FromBits(0x7f7fffff))).toBe(0x7f80);
  });

  it("keeps NaN a NaN, even one whose payload is only in the low bits", () => {
    expect(float32ToBfloat16Bits(Number.NaN) & 0x7fc0).toBe(0x7fc0);
    const lowPayload = float32ToBfloat16Bits(float32FromBits(0x7f800001));
    expect(bfloat16BitsToFloat32(lowPayload)).toBeNaN();
  });

  it("round-trips all 65536 codes (NaNs stay NaN)", () => {
    const bad: number[] = [];
    for (let code = 0; code < 0x10000; code++) {
      const value = bfloat16BitsToFloat32(code);
      const back = float32ToBfloat16Bits(value);
      const ok = Number.isNaN(value) ? Number.isNaN(bfloat16BitsToFloat32(back)) : back === code;
      if (!ok) bad.push(code);
    }
    expect(bad).toEqual([]);
  });
});

const FLOAT8_TYPES: Float8DataType[] = [
  DataType.FLOAT8E4M3FN,
  DataType.FLOAT8E4M3FNUZ,
  DataType.FLOAT8E5M2,
  DataType.FLOAT8E5M2FNUZ,
  DataType.FLOAT8E8M0,
];

describe("float8", () => {
  const encode = (type: Float8DataType, x: number, saturate?: boolean) =>
    float32ToFloat8Bits(type, x, saturate);
  const decode = float8BitsToFloat32;

  it("E4M3FN: max 448, NaN 0x7F/0xFF, no infinities", () => {
    const t = DataType.FLOAT8E4M3FN;
    expect(encode(t, 448)).toBe(0x7e);
    expect(decode(t, 0x7e)).toBe(448);
    expect(decode(t, 0x7f)).toBeNaN();
    expect(decode(t, 0xff)).toBeNaN();
    expect(decode(t, 0x38)).toBe(1);
    expect(decode(t, 0x01)).toBe(2 ** -9);
    expect(encode(t, 1000)).toBe(0x7e);
    expect(encode(t, -1000)).toBe(0xfe);
    expect(encode(t, 1000, false)).toBe(0x7f);
    expect(encode(t, -1000, false)).toBe(0xff);
    expect(encode(t, Number.POSITIVE_INFINITY)).toBe(0x7e);
    expect(encode(t, Number.POSITIVE_INFINITY, false)).toBe(0x7f);
    // 464 is the tie between 448 and the missing 480: it goes to the even 448, even unsaturated.
    expect(encode(t, 464, false)).toBe(0x7e);
    expect(encode(t, 465, false)).toBe(0x7f);
    expect(encode(t, Number.NaN)).toBe(0x7f);
    expect(encode(t, -0)).toBe(0x80);
    expect(encode(t, -(2 ** -12))).toBe(0x80);
  });

  it("E5M2: max 57344, infinity 0x7C", () => {
    const t = DataType.FLOAT8E5M2;
    expect(encode(t, 57344)).toBe(0x7b);
    expect(decode(t, 0x7b)).toBe(57344);
    expect(decode(t, 0x7c)).toBe(Number.POSITIVE_INFINITY);
    expect(decode(t, 0xfc)).toBe(Number.NEGATIVE_INFINITY);
    expect([0x7d, 0x7e, 0x7f, 0xfd].map((c) => decode(t, c))).toEqual([NaN, NaN, NaN, NaN]);
    expect(decode(t, 0x01)).toBe(2 ** -16);
    expect(encode(t, 1e6)).toBe(0x7b);
    expect(encode(t, 1e6, false)).toBe(0x7c);
    expect(encode(t, -1e6, false)).toBe(0xfc);
    expect(encode(t, Number.NEGATIVE_INFINITY)).toBe(0xfb);
    expect(encode(t, Number.NEGATIVE_INFINITY, false)).toBe(0xfc);
    // 61440 is the tie between 57344 (odd) and 65536: it rounds up, past the max.
    expect(encode(t, 61440, false)).toBe(0x7c);
    expect(encode(t, 61439, false)).toBe(0x7b);
  });

  it("FNUZ types: one zero, NaN 0x80, biases 8 and 16", () => {
    for (const t of [DataType.FLOAT8E4M3FNUZ, DataType.FLOAT8E5M2FNUZ] as const) {
      expect(encode(t, -0)).toBe(0);
      expect(encode(t, -(2 ** -30))).toBe(0);
      expect(encode(t, Number.NaN)).toBe(0x80);
      expect(decode(t, 0x80)).toBeNaN();
      expect(decode(t, 0x00)).toBe(0);
      expect(encode(t, 1e9, false)).toBe(0x80);
      expect(encode(t, -1e9, false)).toBe(0x80);
      expect(encode(t, -1e9)).toBe(0xff);
      expect(encode(t, Number.POSITIVE_INFINITY)).toBe(0x7f);
    }
    expect(decode(DataType.FLOAT8E4M3FNUZ, 0x7f)).toBe(240);
    expect(decode(DataType.FLOAT8E4M3FNUZ, 0x40)).toBe(1);
    expect(decode(DataType.FLOAT8E4M3FNUZ, 0x01)).toBe(2 ** -10);
    expect(decode(DataType.FLOAT8E5M2FNUZ, 0x7f)).toBe(57344);
    expect(decode(DataType.FLOAT8E5M2FNUZ, 0x40)).toBe(1);
    expect(decode(DataType.FLOAT8E5M2FNUZ, 0x01)).toBe(2 ** -17);
    expect(encode(DataType.FLOAT8E4M3FNUZ, -240)).toBe(0xff);
  });

  it("E8M0: powers of two with bias 127, rounding up, 0xFF NaN", () => {
    const t = DataType.FLOAT8E8M0;
    expect(encode(t, 1)).toBe(127);
    expect(decode(t, 127)).toBe(1);
    expect(decode(t, 0)).toBe(2 ** -127);
    expect(encode(t, 2 ** -127)).toBe(0);
    expect(decode(t, 0xfe)).toBe(2 ** 127);
    expect(decode(t, 0xff)).toBeNaN();
    expect(encode(t, 3)).toBe(129);
    expect(encode(t, 4)).toBe(129);
    expect(encode(t, 4.5)).toBe(130);
    expect(encode(t, 0.3)).toBe(126);
    expect(encode(t, 1.5 * 2 ** -127)).toBe(1);
    expect(encode(t, 0)).toBe(0);
    expect(encode(t, -4)).toBe(129);
    expect(encode(t, Number.NaN)).toBe(0xff);
    expect(encode(t, 1.5 * 2 ** 127)).toBe(0xfe);
    expect(encode(t, 1.5 * 2 ** 127, false)).toBe(0xff);
  });

  it("round-trips all 256 codes of each type (NaNs stay NaN)", () => {
    for (const t of FLOAT8_TYPES) {
      const bad: number[] = [];
      for (let code = 0; code < 256; code++) {
        const value = decode(t, code);
        const back = encode(t, value, false);
        const ok = Number.isNaN(value) ? Number.isNaN(decode(t, back)) : back === code;
        if (!ok) bad.push(code);
      }
      expect(bad, dataTypeInfo(t).name).toEqual([]);
    }
  });

  it("rounds every midpoint between neighbouring codes to the even one", () => {
    const largest: [Float8DataType, number][] = [
      [DataType.FLOAT8E4M3FN, 0x7e],
      [DataType.FLOAT8E4M3FNUZ, 0x7f],
      [DataType.FLOAT8E5M2, 0x7b],
      [DataType.FLOAT8E5M2FNUZ, 0x7f],
    ];
    for (const [t, max] of largest) {
      const positive = range(0, max + 1);
      const negative = positive.slice(1).map((c) => c | 0x80);
      const bad = [
        ...roundingMismatches(
          positive,
          (c) => decode(t, c),
          (x) => encode(t, x),
        ),
        ...roundingMismatches(
          negative,
          (c) => -decode(t, c),
          (x) => encode(t, -x),
        ),
      ];
      expect(bad, dataTypeInfo(t).name).toEqual([]);
    }
  });
});

describe("float4e2m1", () => {
  it("encodes and decodes known values", () => {
    expect(float32ToFloat4e2m1Bits(6)).toBe(0x7);
    expect(float32ToFloat4e2m1Bits(-0.5)).toBe(0x9);
    expect(float32ToFloat4e2m1Bits(-0)).toBe(0x8);
    expect(float4e2m1BitsToFloat32(0x7)).toBe(6);
    expect(float4e2m1BitsToFloat32(0x9)).toBe(-0.5);
    expect(float4e2m1BitsToFloat32(0xf)).toBe(-6);
    expect(range(0, 8).map(float4e2m1BitsToFloat32)).toEqual([0, 0.5, 1, 1.5, 2, 3, 4, 6]);
  });

  it("saturates at ±6 and maps NaN to 6, as the ONNX spec says", () => {
    expect(float32ToFloat4e2m1Bits(100)).toBe(0x7);
    expect(float32ToFloat4e2m1Bits(-7)).toBe(0xf);
    expect(float32ToFloat4e2m1Bits(Number.POSITIVE_INFINITY)).toBe(0x7);
    expect(float32ToFloat4e2m1Bits(Number.NEGATIVE_INFINITY)).toBe(0xf);
    expect(float32ToFloat4e2m1Bits(Number.NaN)).toBe(0x7);
  });

  it("rounds ties to even and round-trips all 16 codes", () => {
    // The ONNX spec's table: 0.25 -> 0, 0.75 -> 1, 1.25 -> 1, 1.75 -> 2, 2.5 -> 2, 3.5 -> 4, 5 -> 4.
    const ties = [0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5];
    expect(ties.map((x) => float4e2m1BitsToFloat32(float32ToFloat4e2m1Bits(x)))).toEqual([
      0, 1, 1, 2, 2, 4, 4,
    ]);
    expect(
      roundingMismatches(range(0, 8), float4e2m1BitsToFloat32, float32ToFloat4e2m1Bits),
    ).toEqual([]);
    for (const code of range(0, 16)) {
      expect(float32ToFloat4e2m1Bits(float4e2m1BitsToFloat32(code))).toBe(code);
    }
  });
});

describe("encodeElements and decodeElements", () => {
  const bytes = (...values: number[]) => Uint8Array.from(values);

  it("packs int4 low element first, with odd counts", () => {
    const packed = encodeElements(DataType.INT4, [-8, 7, 1]);
    expect(packed).toEqual(bytes(0x78, 0x01));
    const values = decodeElements(DataType.INT4, packed, 3);
    expect(values).toBeInstanceOf(Int8Array);
    expect(list(values)).toEqual([-8, 7, 1]);
    const unsigned = decodeElements(DataType.UINT4, bytes(0xf0, 0x09), 3);
    expect(unsigned).toBeInstanceOf(Uint8Array);
    expect(list(unsigned)).toEqual([0, 15, 9]);
    expect(encodeElements(DataType.UINT4, [0, 15, 9])).toEqual(bytes(0xf0, 0x09));
  });

  it("packs 2-bit integers four to a byte", () => {
    expect(encodeElements(DataType.UINT2, [0, 1, 2, 3, 3])).toEqual(bytes(0b11100100, 0b11));
    expect(list(decodeElements(DataType.UINT2, bytes(0b11100100, 0b11), 5))).toEqual([
      0, 1, 2, 3, 3,
    ]);
    const signed = encodeElements(DataType.INT2, [-2, -1, 0, 1, -2]);
    expect(signed).toEqual(bytes(0b01001110, 0b10));
    expect(list(decodeElements(DataType.INT2, signed, 5))).toEqual([-2, -1, 0, 1, -2]);
  });

  it("encodes narrow floats through their bit conversions", () => {
    expect(encodeElements(DataType.FLOAT16, [1, -2, 65504])).toEqual(
      bytes(0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b),
    );
    expect(encodeElements(DataType.BFLOAT16, [1, -2.5])).toEqual(bytes(0x80, 0x3f, 0x20, 0xc0));
    expect(encodeElements(DataType.FLOAT8E4M3FN, [448, -1000, Number.NaN])).toEqual(
      bytes(0x7e, 0xfe, 0x7f),
    );
    expect(encodeElements(DataType.FLOAT8E8M0, [1, 3])).toEqual(bytes(127, 129));
    expect(encodeElements(DataType.FLOAT4E2M1, [6, -0.5, 1])).toEqual(bytes(0x97, 0x02));
  });

  it("decodes narrow floats to Float32Array", () => {
    const half = decodeElements(DataType.FLOAT16, bytes(0x00, 0x3c, 0x01, 0x00, 0x00, 0xfc), 3);
    expect(half).toBeInstanceOf(Float32Array);
    expect(list(half)).toEqual([1, 2 ** -24, Number.NEGATIVE_INFINITY]);
    const brain = decodeElements(DataType.BFLOAT16, bytes(0x80, 0x3f, 0x49, 0xc0), 2);
    expect(list(brain)).toEqual([1, -3.140625]);
    const e5m2 = decodeElements(DataType.FLOAT8E5M2, bytes(0x3c, 0x7b, 0xfc), 3);
    expect(list(e5m2)).toEqual([1, 57344, Number.NEGATIVE_INFINITY]);
    const e8m0 = decodeElements(DataType.FLOAT8E8M0, bytes(127, 0, 0xff), 3);
    expect(list(e8m0)).toEqual([1, 2 ** -127, Number.NaN]);
    const fp4 = decodeElements(DataType.FLOAT4E2M1, bytes(0x97, 0x02), 3);
    expect(list(fp4)).toEqual([6, -0.5, 1]);
  });

  it("round-trips the native types", () => {
    const cases: [DataType, number[]][] = [
      [DataType.FLOAT, [1.5, -2, 3.25]],
      [DataType.DOUBLE, [Math.PI, -1e300]],
      [DataType.INT8, [-128, 127]],
      [DataType.UINT8, [0, 255]],
      [DataType.INT16, [-32768, 32767]],
      [DataType.UINT16, [0, 65535]],
      [DataType.INT32, [-(2 ** 31), 2 ** 31 - 1]],
      [DataType.UINT32, [0, 2 ** 32 - 1]],
      [DataType.COMPLEX64, [1, -1, 0.5, 2]],
      [DataType.COMPLEX128, [Math.E, -Math.PI]],
    ];
    for (const [type, values] of cases) {
      const isComplex = dataTypeInfo(type).kind === "complex";
      const count = isComplex ? values.length / 2 : values.length;
      const encoded = encodeElements(type, values);
      expect(encoded.byteLength).toBe(byteLength(type, count));
      expect(encoded.buffer.byteLength).toBe(encoded.byteLength);
      expect(list(decodeElements(type, encoded, count))).toEqual(values);
    }
  });

  it("takes bigints or numbers for 64-bit integers", () => {
    const signed = encodeElements(DataType.INT64, [2n ** 62n + 1n, -1n, 9223372036854775807n]);
    expect(list(decodeElements(DataType.INT64, signed, 3))).toEqual([
      2n ** 62n + 1n,
      -1n,
      9223372036854775807n,
    ]);
    const fromNumbers = decodeElements(DataType.INT64, encodeElements(DataType.INT64, [7, -3]), 2);
    expect(fromNumbers).toBeInstanceOf(BigInt64Array);
    expect(list(fromNumbers)).toEqual([7n, -3n]);
    const unsigned = encodeElements(DataType.UINT64, [2n ** 64n - 1n, 5n]);
    expect(list(decodeElements(DataType.UINT64, unsigned, 2))).toEqual([2n ** 64n - 1n, 5n]);
  });

  it("stores bool as 0 and 1 bytes", () => {
    const encoded = encodeElements(DataType.BOOL, [0, 2, -1, 0]);
    expect(encoded).toEqual(bytes(0, 1, 1, 0));
    expect(decodeElements(DataType.BOOL, encoded, 4)).toEqual(bytes(0, 1, 1, 0));
  });

  it("returns a view of aligned bytes and a copy of unaligned ones", () => {
    const buffer = new ArrayBuffer(16);
    new Float32Array(buffer).set([0, 1, 2, 3]);
    const aligned = decodeElements(DataType.FLOAT, new Uint8Array(buffer, 4, 8), 2);
    expect(aligned.buffer).toBe(buffer);
    expect(aligned.byteOffset).toBe(4);
    expect(list(aligned)).toEqual([1, 2]);

    const raw = new Uint8Array(13);
    raw.set(encodeElements(DataType.FLOAT, [1.5, -2, 3]), 1);
    const unaligned = decodeElements(DataType.FLOAT, raw.subarray(1), 3);
    expect(unaligned.buffer).not.toBe(raw.buffer);
    expect(unaligned.byteOffset % 4).toBe(0);
    expect(list(unaligned)).toEqual([1.5, -2, 3]);

    const wide = new Uint8Array(20);
    wide.set(encodeElements(DataType.INT64, [-5n, 6n]), 4);
    const copied = decodeElements(DataType.INT64, wide.subarray(4), 2);
    expect(copied.buffer).not.toBe(wide.buffer);
    expect(list(copied)).toEqual([-5n, 6n]);

    const int8 = decodeElements(DataType.INT8, raw.subarray(1, 3), 2);
    expect(int8.buffer).toBe(raw.buffer);
  });

  it("throws when the bytes are too short or the type has no numeric elements", () => {
    expect(() => decodeElements(DataType.FLOAT, new Uint8Array(7), 2)).toThrow(
      "7 bytes hold fewer than 2 float32 elements (8 bytes needed)",
    );
    expect(() => decodeElements(DataType.INT4, new Uint8Array(1), 3)).toThrow(/2 bytes needed/);
    expect(() => decodeElements(DataType.STRING, new Uint8Array(4), 1)).toThrow(/string/);
    expect(() => encodeElements(DataType.STRING, [1])).toThrow(/string/);
    expect(() => encodeElements(DataType.COMPLEX64, [1, 2, 3])).toThrow(/real and imaginary/);
  });
});
