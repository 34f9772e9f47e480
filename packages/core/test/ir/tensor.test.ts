import { DataType, type ExternalDataRef, Tensor } from "@lathe/core";
import { describe, expect, it } from "vitest";
import { catchLatheError } from "../fixtures/catch-lathe-error.js";

function numbers(tensor: Tensor): number[] {
  return Array.from(tensor.toArray() as ArrayLike<number | bigint>, Number);
}

/** Little-endian uint16 bit patterns as bytes. */
function u16Bytes(patterns: number[]): Uint8Array {
  return new Uint8Array(Uint16Array.from(patterns).buffer);
}

describe("Tensor.fromArray", () => {
  it("encodes float32 values as little-endian raw bytes", () => {
    const t = Tensor.fromArray(DataType.FLOAT, [2, 2], [1, -2, 0.5, 3], { name: "w" });
    const view = new DataView(t.bytes().buffer, t.bytes().byteOffset, t.bytes().byteLength);
    expect([0, 4, 8, 12].map((o) => view.getFloat32(o, true))).toEqual([1, -2, 0.5, 3]);
    expect(t.byteLength).toBe(16);
    expect(t.elementCount).toBe(4);
    expect(t.name).toBe("w");
    expect(numbers(t)).toEqual([1, -2, 0.5, 3]);
  });

  it("keeps int64 values exact, from bigints or numbers", () => {
    const big = Tensor.fromArray(DataType.INT64, [3], [2n ** 62n + 1n, -1n, 9223372036854775807n]);
    const view = new DataView(big.bytes().buffer, big.bytes().byteOffset, 24);
    expect([0, 8, 16].map((o) => view.getBigInt64(o, true))).toEqual([
      2n ** 62n + 1n,
      -1n,
      9223372036854775807n,
    ]);
    const small = Tensor.fromArray(DataType.INT64, [2], [7, -3]);
    expect(Array.from(small.toArray() as ArrayLike<bigint | number>, (v) => BigInt(v))).toEqual([
      7n,
      -3n,
    ]);
  });

  it("encodes float16 and bfloat16 and decodes them back", () => {
    const values = [1, -2, 0.5, 65504, 0];
    const half = Tensor.fromArray(DataType.FLOAT16, [5], values);
    expect(half.bytes()).toEqual(u16Bytes([0x3c00, 0xc000, 0x3800, 0x7bff, 0x0000]));
    expect(numbers(half)).toEqual(values);
    const brain = Tensor.fromArray(DataType.BFLOAT16, [3], [1, -2.5, 3.140625]);
    expect(brain.bytes()).toEqual(u16Bytes([0x3f80, 0xc020, 0x4049]));
    expect(numbers(brain)).toEqual([1, -2.5, 3.140625]);
  });

  it("refuses a value count that does not match the dims", () => {
    const error = catchLatheError(() =>
      Tensor.fromArray(DataType.FLOAT, [2, 3], [1, 2, 3], { name: "w" }),
    );
    expect(error.code).toBe("IR_MISUSE");
    expect(error.message).toContain('tensor "w": 3 values for dims [2, 3] (6 expected)');
  });

  it("refuses negative or fractional dims", () => {
    expect(catchLatheError(() => Tensor.fromArray(DataType.FLOAT, [-1], [])).code).toBe(
      "TENSOR_SIZE_MISMATCH",
    );
    expect(catchLatheError(() => Tensor.fromArray(DataType.FLOAT, [1.5], [1])).message).toContain(
      "invalid dims [1.5]",
    );
  });
});

describe("Tensor.fromBytes", () => {
  it("keeps the given bytes without copying", () => {
    const bytes = new Uint8Array(8);
    const t = Tensor.fromBytes(DataType.INT32, [2], bytes);
    expect(t.bytes()).toBe(bytes);
    bytes[0] = 5;
    expect(numbers(t)).toEqual([5, 0]);
  });

  it("decodes packed int4 (low nibble first) and uint4, an odd count rounding up to a whole byte", () => {
    // int4 [1, -2, 7, -8, 3]: bytes (-2<<4 | 1), (-8<<4 | 7), 3
    const int4 = Tensor.fromBytes(DataType.INT4, [5], Uint8Array.from([0xe1, 0x87, 0x03]));
    expect(int4.byteLength).toBe(3);
    expect(numbers(int4)).toEqual([1, -2, 7, -8, 3]);
    const uint4 = Tensor.fromBytes(DataType.UINT4, [3], Uint8Array.from([0xf0, 0x09]));
    expect(numbers(uint4)).toEqual([0, 15, 9]);
    expect(Tensor.fromArray(DataType.INT4, [5], [1, -2, 7, -8, 3]).bytes()).toEqual(int4.bytes());
  });

  it("decodes float16 bit patterns, including infinities and subnormals", () => {
    const t = Tensor.fromBytes(DataType.FLOAT16, [4], u16Bytes([0x7c00, 0xfc00, 0x0001, 0x3555]));
    const [inf, negInf, tiny, third] = numbers(t);
    expect([inf, negInf]).toEqual([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    expect(tiny).toBe(2 ** -24);
    expect(third).toBeCloseTo(1 / 3, 3);
  });

  it("refuses bytes whose length does not match dims and type", () => {
    const error = catchLatheError(() =>
      Tensor.fromBytes(DataType.FLOAT, [3], new Uint8Array(8), { name: "bias" }),
    );
    expect(error.code).toBe("TENSOR_SIZE_MISMATCH");
    expect(error.message).toMatch(
      /^tensor "bias": 8 bytes of data, but dims \[3\] of \S+ need 12$/,
    );
    expect(() => Tensor.fromBytes(DataType.INT4, [5], new Uint8Array(2))).toThrow(/need 3/);
  });

  it("sends string tensors to fromStrings", () => {
    expect(
      catchLatheError(() => Tensor.fromBytes(DataType.STRING, [1], new Uint8Array(1))).code,
    ).toBe("IR_MISUSE");
  });
});

describe("Tensor.fromStrings", () => {
  it("holds UTF-8 bytes and reports their total length", () => {
    const raw = Uint8Array.from([0xff, 0x00]);
    const t = Tensor.fromStrings([3], ["héllo", "", raw]);
    expect(t.dataType).toBe(DataType.STRING);
    expect(t.strings()[0]).toEqual(new TextEncoder().encode("héllo"));
    expect(t.strings()[2]).toBe(raw);
    expect(t.toStrings().slice(0, 2)).toEqual(["héllo", ""]);
    expect(t.byteLength).toBe(6 + 0 + 2);
    expect(catchLatheError(() => t.bytes()).message).toContain("holds strings");
  });

  it("refuses a count that does not match the dims", () => {
    const error = catchLatheError(() =>
      Tensor.fromStrings([2, 2], ["a", "b", "c"], { name: "vocab" }),
    );
    expect(error.code).toBe("TENSOR_SIZE_MISMATCH");
    expect(error.message).toContain('tensor "vocab": 3 strings, but dims [2, 2] need 4');
  });

  it("a numeric tensor has no strings", () => {
    expect(catchLatheError(() => Tensor.fromArray(DataType.FLOAT, [1], [1]).strings()).code).toBe(
      "IR_MISUSE",
    );
  });
});

describe("external tensors", () => {
  const ref: ExternalDataRef = {
    tensor: "w",
    path: "/models/m.onnx.data",
    location: "m.onnx.data",
    offset: 4096,
    length: 16,
  };

  function counting(bytes: Uint8Array) {
    const reads: ExternalDataRef[] = [];
    return {
      reads,
      read: (r: ExternalDataRef) => {
        reads.push(r);
        return bytes.slice();
      },
    };
  }

  it("knows its size without reading, reads once on first use, and re-reads after release", () => {
    const data = new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer);
    const reader = counting(data);
    const t = Tensor.fromExternal(DataType.FLOAT, [2, 2], ref, reader.read, { name: "w" });
    expect(t.byteLength).toBe(16);
    expect(t.elementCount).toBe(4);
    expect(t.isLoaded).toBe(false);
    expect(t.external).toEqual(ref);
    expect(reader.reads).toEqual([]);

    expect(numbers(t)).toEqual([1, 2, 3, 4]);
    expect(t.bytes()).toEqual(data);
    expect(t.isLoaded).toBe(true);
    expect(reader.reads).toEqual([ref]);

    t.release();
    expect(t.isLoaded).toBe(false);
    t.bytes();
    expect(reader.reads).toHaveLength(2);
  });

  it("readBytesOnce streams without caching", () => {
    const reader = counting(new Uint8Array(16));
    const t = Tensor.fromExternal(DataType.FLOAT, [4], ref, reader.read);
    t.readBytesOnce();
    t.readBytesOnce();
    expect(t.isLoaded).toBe(false);
    expect(reader.reads).toHaveLength(2);
  });

  it("refuses a reference whose length does not match the dims", () => {
    const error = catchLatheError(() =>
      Tensor.fromExternal(DataType.FLOAT, [5], ref, () => new Uint8Array(16), { name: "w" }),
    );
    expect(error.code).toBe("TENSOR_SIZE_MISMATCH");
    expect(error.where).toBe(ref.path);
    expect(error.message).toContain("external data has 16 bytes");
  });
});

describe("scalar", () => {
  it("returns the one element, and refuses tensors with more", () => {
    expect(Tensor.fromArray(DataType.INT64, [], [42n]).scalar()).toBe(42);
    expect(Tensor.fromArray(DataType.FLOAT, [1, 1], [0.25]).scalar()).toBe(0.25);
    expect(catchLatheError(() => Tensor.fromArray(DataType.FLOAT, [2], [1, 2]).scalar()).code).toBe(
      "IR_MISUSE",
    );
  });
});
