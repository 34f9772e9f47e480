/**
 * Block-wise integer quantization as ONNX Runtime's MatMulNBits reads it: each row (an output
 * channel: column n of the [K, N] weight) is cut into blocks of `blockSize` along K, each block
 * with one scale and one zero point; stored values are unsigned, `w ≈ (q - zero) · scale`.
 */

export interface BlockQuantConfig {
  readonly bits: 4 | 8;
  readonly blockSize: number;
  /** Implicit zero point 2^(bits-1); the scale maps the block's largest magnitude onto -2^(bits-1). */
  readonly symmetric: boolean;
}

/** Quantized rows: `values` are [rows, blocks * blockSize] (K zero-padded), one scale and zero point per block. */
export interface BlockQuantized extends BlockQuantConfig {
  /** Rows (N for a MatMul weight, the vocabulary for an embedding table). */
  readonly rows: number;
  /** Elements per row before padding (K). */
  readonly columns: number;
  readonly blocks: number;
  readonly values: Uint8Array;
  /** [rows, blocks]. */
  readonly scales: Float32Array;
  /** [rows, blocks]; 2^(bits-1) everywhere when symmetric. */
  readonly zeroPoints: Uint8Array;
}

export interface BlockParams {
  scale: number;
  zeroPoint: number;
}

export function maxQ(bits: number): number {
  return (1 << bits) - 1;
}

/**
 * Scale and zero point of one block of `length` values read at `offset + i * stride`, the way
 * ORT's quantizer picks them: symmetric maps the value of largest magnitude onto -2^(bits-1)
 * (the scale may be negative, so the full range is used); asymmetric spans [min(0, lo), max(0, hi)].
 */
export function blockParams(
  data: ArrayLike<number>,
  offset: number,
  length: number,
  stride: number,
  config: BlockQuantConfig,
): BlockParams {
  const top = maxQ(config.bits);
  if (config.symmetric) {
    let extreme = 0;
    for (let i = 0; i < length; i++) {
      const v = data[offset + i * stride] as number;
      if (Math.abs(v) > Math.abs(extreme)) extreme = v;
    }
    const mid = 1 << (config.bits - 1);
    return { scale: Math.fround(extreme / -mid), zeroPoint: mid };
  }
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < length; i++) {
    const v = data[offset + i * stride] as number;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const scale = Math.fround((hi - lo) / top);
  const zeroPoint = scale === 0 ? 0 : clamp(Math.round(-lo / scale), 0, top);
  return { scale, zeroPoint };
}

/** The stored integer for `value` under a block's parameters. */
export function quantizeValue(value: number, p: BlockParams, bits: number): number {
  if (p.scale === 0) return p.zeroPoint;
  return clamp(Math.round(value / p.scale) + p.zeroPoint, 0, maxQ(bits));
}

export function dequantizeValue(q: number, p: BlockParams): number {
  return (q - p.zeroPoint) * p.scale;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), hi);
}

export function blockCount(columns: number, blockSize: number): number {
  return Math.ceil(columns / blockSize);
}

/** Empty storage for `rows` × `columns` values in blocks. */
export function allocateBlocks(
  rows: number,
  columns: number,
  config: BlockQuantConfig,
): BlockQuantized {
  const blocks = blockCount(columns, config.blockSize);
  return {
    ...config,
    rows,
    columns,
    blocks,
    values: new Uint8Array(rows * blocks * config.blockSize),
    scales: new Float32Array(rows * blocks),
    zeroPoints: new Uint8Array(rows * blocks),
  };
}

/**
 * Round-to-nearest: `data` holds `rows` rows of `columns` values (row-major). Padding past
 * `columns` stores the zero point, so it dequantizes to 0.
 */
export function quantizeRtn(
  data: ArrayLike<number>,
  rows: number,
  columns: number,
  config: BlockQuantConfig,
): BlockQuantized {
  const out = allocateBlocks(rows, columns, config);
  const { blockSize, blocks, bits } = out;
  const padded = blocks * blockSize;
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < blocks; b++) {
      const start = b * blockSize;
      const length = Math.min(blockSize, columns - start);
      const p = blockParams(data, r * columns + start, length, 1, config);
      out.scales[r * blocks + b] = p.scale;
      out.zeroPoints[r * blocks + b] = p.zeroPoint;
      const base = r * padded + start;
      for (let i = 0; i < blockSize; i++) {
        out.values[base + i] =
          i < length
            ? quantizeValue(data[r * columns + start + i] as number, p, bits)
            : p.zeroPoint;
      }
    }
  }
  return out;
}

/** The dequantized rows, [rows, columns] (padding dropped). */
export function dequantizeRows(q: BlockQuantized): Float32Array {
  const { rows, columns, blocks, blockSize } = q;
  const out = new Float32Array(rows * columns);
  const padded = blocks * blockSize;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      const b = r * blocks + Math.floor(c / blockSize);
      out[r * columns + c] =
        ((q.values[r * padded + c] as number) - (q.zeroPoints[b] as number)) *
        (q.scales[b] as number);
    }
  }
  return out;
}

/** [rows, columns] → [columns, rows]. */
export function transpose(data: ArrayLike<number>, rows: number, columns: number): Float32Array {
  const out = new Float32Array(rows * columns);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < columns; c++) out[c * rows + r] = data[r * columns + c] as number;
  return out;
}
