import type { BlockQuantized } from "./block-quant.js";

/**
 * Byte layouts ONNX Runtime reads (contrib_ops MatMulNBits, GatherBlockQuantized; ONNX
 * int4/uint4 tensors): 4-bit values two to a byte, the first in the low nibble.
 */

/** Packs 4-bit values (0–15) two to a byte, low nibble first; an odd tail gets a zero high nibble. */
export function packNibbles(values: ArrayLike<number>, count = values.length): Uint8Array {
  const out = new Uint8Array(Math.ceil(count / 2));
  for (let i = 0; i < count; i += 2) {
    const lo = (values[i] as number) & 0xf;
    const hi = i + 1 < count ? (values[i + 1] as number) & 0xf : 0;
    out[i >> 1] = lo | (hi << 4);
  }
  return out;
}

/** MatMulNBits input B: uint8 [N, blocks, blockSize * bits / 8], row n = column n of [K, N], K padded. */
export function packMatMulNBitsWeight(q: BlockQuantized): Uint8Array {
  return q.bits === 8 ? q.values.slice() : packNibbles(q.values);
}

/**
 * MatMulNBits zero_points: uint8, per row `ceil(blocks * bits / 8)` bytes (4-bit: two blocks a
 * byte, low nibble first, each row padded to whole bytes).
 */
export function packMatMulNBitsZeroPoints(q: BlockQuantized): Uint8Array {
  if (q.bits === 8) return q.zeroPoints.slice();
  const perRow = Math.ceil(q.blocks / 2);
  const out = new Uint8Array(q.rows * perRow);
  for (let r = 0; r < q.rows; r++) {
    out.set(packNibbles(q.zeroPoints.subarray(r * q.blocks, (r + 1) * q.blocks)), r * perRow);
  }
  return out;
}

/**
 * GatherBlockQuantized data (uint8, quantize_axis = last): [rows, columns * bits / 8], the
 * row's values unpadded, two 4-bit values a byte. `columns` must be even for 4 bits.
 */
export function packGatherData(q: BlockQuantized): Uint8Array {
  const padded = q.blocks * q.blockSize;
  const perRow = (q.columns * q.bits) / 8;
  const out = new Uint8Array(q.rows * perRow);
  for (let r = 0; r < q.rows; r++) {
    const row = q.values.subarray(r * padded, r * padded + q.columns);
    out.set(q.bits === 8 ? row : packNibbles(row), r * perRow);
  }
  return out;
}

/**
 * Blocked DequantizeLinear (opset 21, axis 0) over the [K, N] weight: values [K, N] as
 * uint4/uint8, zero points [blocks, N] of the same type (2^(bits-1) when symmetric) and scales
 * [blocks, N]. Unsigned with explicit zero points because that is the form ORT's level-2
 * DQ→MatMul fusion turns into MatMulNBits.
 */
export function packDequantizeLinear(q: BlockQuantized): {
  values: Uint8Array;
  scales: Float32Array;
  zeroPoints: Uint8Array;
} {
  const { rows: n, columns: k, blocks, blockSize, bits } = q;
  const padded = blocks * blockSize;
  const kn = new Uint8Array(k * n);
  for (let r = 0; r < n; r++)
    for (let c = 0; c < k; c++) kn[c * n + r] = q.values[r * padded + c] as number;
  const scales = new Float32Array(blocks * n);
  const zeros = new Uint8Array(blocks * n);
  for (let r = 0; r < n; r++) {
    for (let b = 0; b < blocks; b++) {
      scales[b * n + r] = q.scales[r * blocks + b] as number;
      zeros[b * n + r] = q.zeroPoints[r * blocks + b] as number;
    }
  }
  return {
    values: bits === 4 ? packNibbles(kn) : kn,
    scales,
    zeroPoints: bits === 4 ? packNibbles(zeros) : zeros,
  };
}

/**
 * The weight a MatMulNBits node's inputs encode, as [N, K] rows (the inverse of the packing
 * above): for measuring what a quantized model computes without running it.
 */
export function unpackMatMulNBits(
  b: Uint8Array,
  scales: ArrayLike<number>,
  zeroPoints: Uint8Array | undefined,
  shape: { k: number; n: number; bits: number; blockSize: number },
): Float32Array {
  const { k, n, bits, blockSize } = shape;
  const blocks = Math.ceil(k / blockSize);
  const blob = (blockSize * bits) / 8;
  const zeroRow = Math.ceil((blocks * bits) / 8);
  const out = new Float32Array(n * k);
  for (let r = 0; r < n; r++) {
    for (let blk = 0; blk < blocks; blk++) {
      let zero = 1 << (bits - 1);
      if (zeroPoints) {
        const byte = zeroPoints[r * zeroRow + ((blk * bits) >> 3)] as number;
        zero = bits === 8 ? byte : blk % 2 === 0 ? byte & 0xf : byte >> 4;
      }
      const scale = scales[r * blocks + blk] as number;
      const base = (r * blocks + blk) * blob;
      for (let i = 0; i < blockSize && blk * blockSize + i < k; i++) {
        const q =
          bits === 8
            ? (b[base + i] as number)
            : ((b[base + (i >> 1)] as number) >> ((i & 1) * 4)) & 0xf;
        out[r * k + blk * blockSize + i] = (q - zero) * scale;
      }
    }
  }
  return out;
}
