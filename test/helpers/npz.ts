import { crc32 } from "node:zlib";
import { SeededRandom } from "@lathe/core";

/** An array as numpy.save writes it: int64 (BigInt64Array) or float32 (Float32Array). */
export interface NpyArray {
  readonly shape: readonly number[];
  readonly data: BigInt64Array | Float32Array;
}

/** A .npy file (format 1.0, little-endian, C order). */
export function npyBytes(array: NpyArray): Buffer {
  const descr = array.data instanceof BigInt64Array ? "<i8" : "<f4";
  const shape = array.shape.length === 1 ? `(${array.shape[0]},)` : `(${array.shape.join(", ")})`;
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  // Magic (6) + version (2) + header length (2) + header, padded to a multiple of 64.
  const length = Math.ceil((10 + dict.length + 1) / 64) * 64 - 10;
  const header = `${dict.padEnd(length - 1, " ")}\n`;
  return Buffer.concat([
    Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, length & 0xff, length >> 8]),
    Buffer.from(header, "latin1"),
    Buffer.from(array.data.buffer, array.data.byteOffset, array.data.byteLength),
  ]);
}

/** A .npz archive as numpy.savez writes it: one stored (uncompressed) `<name>.npy` per array. */
export function npzBytes(arrays: Readonly<Record<string, NpyArray>>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, array] of Object.entries(arrays)) {
    const data = npyBytes(array);
    const fileName = Buffer.from(`${name}.npy`);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(fileName.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(fileName.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, fileName, data);
    centrals.push(central, fileName);
    offset += local.length + fileName.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(arrays).length, 8);
  end.writeUInt16LE(Object.keys(arrays).length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** Token-id inputs of a decoder for `rows` × `length` tokens below `vocab`, from `seed`. */
export function tokenInputs(rows: number, length: number, vocab: number, seed: number) {
  const random = new SeededRandom(seed);
  const ids = BigInt64Array.from({ length: rows * length }, () => BigInt(random.int(vocab)));
  const positions = BigInt64Array.from({ length: rows * length }, (_, i) => BigInt(i % length));
  const shape = [rows, length];
  return {
    input_ids: { shape, data: ids },
    attention_mask: { shape, data: new BigInt64Array(rows * length).fill(1n) },
    position_ids: { shape, data: positions },
  };
}
