import {
  attr,
  createBuilder,
  DataType,
  type Model,
  relativeL2,
  SeededRandom,
  singleModelBundle,
  Tensor,
  type Value,
} from "@lathe/core";
import {
  float32Tensor,
  int64Tensor,
  maxAbsDiff,
  opCounts,
  runFloat,
  runOnOrt,
} from "@lathe/core/testing";
import { describe, expect, it } from "vitest";
import {
  type BlockQuantized,
  dequantizeRows,
  quantizeRtn,
  transpose,
} from "../src/weight-only/block-quant.js";
import { weightOnlyPass } from "../src/weight-only/weight-only.js";
import { component, runPass } from "./int8-fixtures.js";

/** Seeded values with a few large ones, like trained weights. */
function values(count: number, seed: number): Float32Array {
  const random = new SeededRandom(seed);
  const next = () => random.uniform();
  return Float32Array.from({ length: count }, () => {
    const u = next() * 2 - 1;
    return next() < 0.02 ? u * 8 : u;
  });
}

/**
 * An independent reader of MatMulNBits' inputs, written from the operator's contract: B is
 * [N, blocks, blob] with 4-bit values low nibble first; zero_points per row ceil(blocks·bits/8)
 * bytes, or 2^(bits-1) when absent. Returns the [K, N] weight it encodes.
 */
function readMatMulNBits(
  b: Uint8Array,
  scales: Float32Array,
  zeros: Uint8Array | undefined,
  k: number,
  n: number,
  bits: number,
  blockSize: number,
): { weight: Float32Array; ints: number[]; zeroPoints: number[] } {
  const blocks = Math.ceil(k / blockSize);
  const blob = (blockSize * bits) / 8;
  const zeroRow = Math.ceil((blocks * bits) / 8);
  const weight = new Float32Array(k * n);
  const ints: number[] = [];
  const zeroPoints: number[] = [];
  for (let col = 0; col < n; col++) {
    for (let blk = 0; blk < blocks; blk++) {
      let zp = 1 << (bits - 1);
      if (zeros) {
        const byte = zeros[col * zeroRow + Math.floor((blk * bits) / 8)] as number;
        zp = bits === 8 ? byte : blk % 2 === 0 ? byte & 0xf : byte >> 4;
      }
      zeroPoints.push(zp);
      const scale = scales[col * blocks + blk] as number;
      for (let i = 0; i < blockSize; i++) {
        const offset = (col * blocks + blk) * blob;
        const q =
          bits === 8
            ? (b[offset + i] as number)
            : i % 2 === 0
              ? (b[offset + (i >> 1)] as number) & 0xf
              : (b[offset + (i >> 1)] as number) >> 4;
        ints.push(q);
        const row = blk * blockSize + i;
        if (row < k) weight[row * n + col] = (q - zp) * scale;
      }
    }
  }
  return { weight, ints, zeroPoints };
}

function matmulModel(k: number, n: number, weight: Float32Array, gemmBias?: Float32Array): Model {
  const b = createBuilder({ opset: 17 });
  const x = b.input("x", DataType.FLOAT, [3, k]);
  const w = b.constant(weight, [k, n], DataType.FLOAT, "w");
  const y = gemmBias
    ? b.Gemm(x, w, b.constant(gemmBias, [n], DataType.FLOAT, "c"))
    : b.MatMul(x, w);
  b.output(y, "y");
  return b.build();
}

/** x · W on float64, x [m, k], W [k, n]. */
function product(x: Float32Array, w: Float32Array, m: number, k: number, n: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += (x[i * k + t] as number) * (w[t * n + j] as number);
      out[i * n + j] = s;
    }
  return out;
}

function tensorOf(model: Model, name: string | undefined): Tensor {
  const value = name ? model.graph.initializers.get(name) : undefined;
  if (!value) throw new Error(`no initializer ${name}`);
  return value.constValue as Tensor;
}

const cases = [
  { bits: 4, symmetric: true, k: 96, n: 24, blockSize: 32 },
  { bits: 4, symmetric: false, k: 96, n: 24, blockSize: 32 },
  { bits: 4, symmetric: true, k: 80, n: 20, blockSize: 32 }, // K not a multiple of the block
  { bits: 4, symmetric: false, k: 100, n: 12, blockSize: 16 }, // odd block count per row
  { bits: 8, symmetric: true, k: 80, n: 20, blockSize: 32 },
  { bits: 8, symmetric: false, k: 72, n: 16, blockSize: 64 },
] as const;

describe("quantize/weight-only packing and numbers", () => {
  it("rtn stores each value within half a step of the weight", () => {
    const w = values(40 * 70, 3);
    for (const symmetric of [true, false]) {
      let clamped = 0;
      const q = quantizeRtn(w, 40, 70, { bits: 4, blockSize: 16, symmetric });
      const back = dequantizeRows(q);
      for (let r = 0; r < 40; r++)
        for (let c = 0; c < 70; c++) {
          const scale = Math.abs(q.scales[r * q.blocks + Math.floor(c / 16)] as number);
          // Half a step, or one where the range's edge was clamped.
          const error = Math.abs((back[r * 70 + c] as number) - (w[r * 70 + c] as number));
          expect(error).toBeLessThanOrEqual(scale + 1e-6);
          if (error > scale * 0.5 + 1e-6) clamped++;
        }
      expect(clamped).toBeLessThan(40 * 5);
    }
  });

  for (const c of cases) {
    const label = `${c.bits}-bit ${c.symmetric ? "symmetric" : "asymmetric"}, K=${c.k}, block ${c.blockSize}`;
    it(`MatMulNBits ${label}: the packed inputs decode to the quantized values and ORT computes x·dequant(W)`, async () => {
      const weight = values(c.k * c.n, c.k + c.n);
      const model = matmulModel(c.k, c.n, weight);
      const { result } = await runPass(weightOnlyPass, singleModelBundle(model), {
        bits: c.bits,
        headBits: c.bits,
        blockSize: c.blockSize,
        symmetric: c.symmetric,
        accuracyLevel: 0,
        minElements: 0,
      });
      const out = component(result.bundle);
      expect(opCounts(out)).toEqual({ MatMulNBits: 1 });
      const node = [...out.graph][0]!;
      expect(node.domain).toBe("com.microsoft");
      expect([
        node.getInt("K"),
        node.getInt("N"),
        node.getInt("bits"),
        node.getInt("block_size"),
      ]).toEqual([c.k, c.n, c.bits, c.blockSize]);
      const blocks = Math.ceil(c.k / c.blockSize);
      const b = tensorOf(out, node.inputs[1]?.name);
      expect(b.dataType).toBe(DataType.UINT8);
      expect(b.dims).toEqual([c.n, blocks, (c.blockSize * c.bits) / 8]);
      const scales = tensorOf(out, node.inputs[2]?.name);
      expect(scales.dims).toEqual([c.n * blocks]);
      const zeros = node.inputs[3] ? tensorOf(out, node.inputs[3].name) : undefined;
      expect(zeros === undefined).toBe(c.symmetric);
      if (zeros) expect(zeros.dims).toEqual([c.n * Math.ceil((blocks * c.bits) / 8)]);

      // The same quantization, done directly, is what the packed bytes hold.
      const expected: BlockQuantized = quantizeRtn(transpose(weight, c.k, c.n), c.n, c.k, c);
      const read = readMatMulNBits(
        b.bytes(),
        scales.toArray() as Float32Array,
        zeros?.bytes(),
        c.k,
        c.n,
        c.bits,
        c.blockSize,
      );
      expect(read.ints).toEqual([...expected.values]);
      expect(read.zeroPoints).toEqual([...expected.zeroPoints]);
      expect(Float32Array.from(scales.toArray() as Float32Array)).toEqual(expected.scales);
      const dequantized = transpose(dequantizeRows(expected), c.n, c.k);
      expect(read.weight).toEqual(dequantized);
      // Quantization changed the weight (the test is not vacuous) but not by much.
      expect(maxAbsDiff(dequantized, weight)).toBeGreaterThan(0);

      const x = values(3 * c.k, 11);
      const got = await runFloat(out, { x: float32Tensor(x, [3, c.k]) }, "y");
      const want = product(x, dequantized, 3, c.k, c.n);
      expect(maxAbsDiff(got, want)).toBeLessThan(
        1e-4 * Math.max(1, maxAbsDiff(want, new Float64Array(want.length))),
      );
      const original = product(x, weight, 3, c.k, c.n);
      expect(maxAbsDiff(got, original)).toBeGreaterThan(maxAbsDiff(got, want));
      // accuracy_level 4 (int8 activations, per block) runs too, close to the exact product.
      node.setAttribute(attr.int("accuracy_level", 4));
      const fast = await runFloat(out, { x: float32Tensor(x, [3, c.k]) }, "y");
      expect(relativeL2(want, fast)).toBeLessThan(0.02);
    });
  }

  it("Gemm with a bias: MatMulNBits carries the bias; ORT matches x·dequant(W) + c", async () => {
    const [k, n] = [64, 32];
    const weight = values(k * n, 5);
    const bias = values(n, 6);
    const model = matmulModel(k, n, weight, bias);
    const { result } = await runPass(weightOnlyPass, singleModelBundle(model), {
      minElements: 0,
      accuracyLevel: 0,
      headBits: 4, // its output is the graph's: the product counts as a head
    });
    const out = component(result.bundle);
    expect(opCounts(out)).toEqual({ MatMulNBits: 1 });
    expect([...out.graph][0]!.inputs[5]?.name).toBe("c");
    const q = quantizeRtn(transpose(weight, k, n), n, k, {
      bits: 4,
      blockSize: 32,
      symmetric: true,
    });
    const x = values(3 * k, 9);
    const got = await runFloat(out, { x: float32Tensor(x, [3, k]) }, "y");
    const want = product(x, transpose(dequantizeRows(q), n, k), 3, k, n).map(
      (v, i) => v + (bias[i % n] as number),
    );
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);
  });

  for (const c of cases.filter((x) => x.blockSize <= 64)) {
    const label = `${c.bits}-bit ${c.symmetric ? "symmetric" : "asymmetric"}, K=${c.k}, block ${c.blockSize}`;
    it(`portable ${label}: blocked DequantizeLinear + MatMul at opset 21 matches the dequantized product`, async () => {
      const weight = values(c.k * c.n, c.k * 7 + c.n);
      const model = matmulModel(c.k, c.n, weight);
      const { result } = await runPass(weightOnlyPass, singleModelBundle(model), {
        bits: c.bits,
        headBits: c.bits,
        blockSize: c.blockSize,
        symmetric: c.symmetric,
        format: "portable",
        minElements: 0,
      });
      const out = component(result.bundle);
      expect(opCounts(out)).toEqual({ DequantizeLinear: 1, MatMul: 1 });
      expect(out.opset("")).toBe(21);
      const dq = [...out.graph][0]!;
      const stored = tensorOf(out, dq.inputs[0]?.name);
      expect(stored.dataType).toBe(c.bits === 4 ? DataType.UINT4 : DataType.UINT8);
      expect(stored.dims).toEqual([c.k, c.n]);
      const q = quantizeRtn(transpose(weight, c.k, c.n), c.n, c.k, c);
      const x = values(3 * c.k, 13);
      // ORT fuses DQ→MatMul into MatMulNBits at accuracy level 4 (int8 activations) unless told
      // otherwise: compare the exact product at level 0.
      const got = await runFloat(out, { x: float32Tensor(x, [3, c.k]) }, "y", {
        extra: { "session.qdq_matmulnbits_accuracy_level": "0" },
      });
      const want = product(x, transpose(dequantizeRows(q), c.n, c.k), 3, c.k, c.n);
      expect(maxAbsDiff(got, want)).toBeLessThan(
        1e-4 * Math.max(1, maxAbsDiff(want, new Float64Array(want.length))),
      );
    });
  }

  for (const [bits, symmetric] of [
    [4, true],
    [4, false],
    [8, true],
    [8, false],
  ] as const) {
    it(`GatherBlockQuantized ${bits}-bit ${symmetric ? "symmetric" : "asymmetric"} returns the dequantized rows`, async () => {
      const [vocab, width] = [50, 48];
      const table = values(vocab * width, 21);
      const b = createBuilder({ opset: 17 });
      const ids = b.input("ids", DataType.INT64, [2, 3]);
      b.output(b.Gather(b.constant(table, [vocab, width], DataType.FLOAT, "table"), ids), "rows");
      const { result } = await runPass(weightOnlyPass, singleModelBundle(b.build()), {
        bits,
        headBits: bits,
        symmetric,
        blockSize: 16,
        minElements: 0,
      });
      const out = component(result.bundle);
      expect(opCounts(out)).toEqual({ GatherBlockQuantized: 1 });
      const picked = [0, 7, 49, 3, 3, 12];
      const got = await runFloat(out, { ids: int64Tensor(picked, [2, 3]) }, "rows");
      const dequantized = dequantizeRows(
        quantizeRtn(table, vocab, width, { bits, blockSize: 16, symmetric }),
      );
      const want = picked.flatMap((id) => [...dequantized.subarray(id * width, (id + 1) * width)]);
      expect(maxAbsDiff(got, want)).toBeLessThan(1e-6);
      expect(
        maxAbsDiff(
          want,
          picked.flatMap((id) => [...table.subarray(id * width, (id + 1) * width)]),
        ),
      ).toBeGreaterThan(0);
    });
  }

  it("shares one copy of a weight read twice, reads Constant-node weights, skips what it cannot quantize", async () => {
    const b = createBuilder({ opset: 17 });
    const mm = (a: Value, w: Value, { name }: { name: string }) =>
      b.op("MatMul", [a, w], {}, { name });
    const x = b.input("x", DataType.FLOAT, [3, 64]);
    const shared = b.constant(values(64 * 32, 1), [64, 32], DataType.FLOAT, "shared");
    const y1 = mm(x, shared, { name: "first" });
    const y2 = mm(x, shared, { name: "second" });
    const fromConstant = b.Constant({
      value: Tensor.fromArray(DataType.FLOAT, [64, 32], values(64 * 32, 2)),
    });
    const y3 = mm(x, fromConstant, { name: "constant_node" });
    const narrow = mm(
      b.Slice(
        x,
        b.constant(BigInt64Array.from([0n]), [1], DataType.INT64),
        b.constant(BigInt64Array.from([8n]), [1], DataType.INT64),
        b.constant(BigInt64Array.from([1n]), [1], DataType.INT64),
      ),
      b.constant(values(8 * 256, 3), [8, 256], DataType.FLOAT),
      { name: "narrow" },
    );
    const doubles = mm(
      b.Cast(x, { to: DataType.DOUBLE }),
      b.constant(Float64Array.from(values(64 * 32, 4)), [64, 32], DataType.DOUBLE),
      { name: "doubles" },
    );
    const computed = mm(y1, b.Transpose(y2), { name: "computed" });
    const excluded = mm(x, b.constant(values(64 * 32, 5), [64, 32], DataType.FLOAT), {
      name: "lm_head_excluded",
    });
    b.output(b.Concat(y1, y2, y3, excluded, { axis: 1 }), "y");
    b.output(narrow, "n");
    b.output(doubles, "d");
    b.output(computed, "c");
    const { result } = await runPass(weightOnlyPass, singleModelBundle(b.build()), {
      exclude: ["excluded$"],
      minElements: 0,
    });
    const stats = result.statistics ?? {};
    expect(stats["quantized.MatMul"]).toBe(3);
    expect(stats["skipped: K is 8 (< minK 16)"]).toBe(1);
    expect(stats["skipped: B is not float32"]).toBe(1);
    expect(stats["skipped: B is computed at run time (not a constant)"]).toBe(1);
    expect(stats['skipped: name matches exclude pattern "excluded$"']).toBe(1);
    const model = component(result.bundle);
    const nbits = [...model.graph].filter((n) => n.opType === "MatMulNBits");
    expect(nbits.length).toBe(3);
    // "first" and "second" read the same packed weight.
    expect(nbits[0]?.inputs[1]).toBe(nbits[1]?.inputs[1]);
    expect(nbits[2]?.inputs[1]).not.toBe(nbits[0]?.inputs[1]);
    expect([...model.graph].some((n) => n.opType === "Constant")).toBe(false);
    const x0 = values(3 * 64, 8);
    const out = await runOnOrt(model, { x: float32Tensor(x0, [3, 64]) });
    expect(out.y?.dims).toEqual([3, 128]);
  });
});
