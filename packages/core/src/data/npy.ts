import { errors } from "../diagnostics.js";
import { byteLength, DataType, dataTypeInfo } from "../ir/dtype.js";
import { elementCount, Tensor } from "../ir/tensor.js";

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** numpy's type codes (without byte order) for the types ONNX has. */
const DESCR = new Map<string, DataType>([
  ["f2", DataType.FLOAT16],
  ["f4", DataType.FLOAT],
  ["f8", DataType.DOUBLE],
  ["i1", DataType.INT8],
  ["u1", DataType.UINT8],
  ["i2", DataType.INT16],
  ["u2", DataType.UINT16],
  ["i4", DataType.INT32],
  ["u4", DataType.UINT32],
  ["i8", DataType.INT64],
  ["u8", DataType.UINT64],
  ["b1", DataType.BOOL],
]);

/**
 * A `.npy` array (format versions 1, 2 and 3) as a tensor: little- or big-endian, C or Fortran
 * order (both come out in C order, as ONNX wants them).
 */
export function parseNpy(bytes: Uint8Array, file: string, name = ""): Tensor {
  const fail = (detail: string) => errors.dataFileInvalid(file, ".npy", detail);
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw fail("it does not start with the \\x93NUMPY magic");
  }
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLength: number;
  let headerStart: number;
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw fail("the header is cut short");
    headerLength = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw fail(`format version ${major}.${bytes[7]} is not one numpy writes (1, 2 or 3)`);
  }
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.length) throw fail("the header is cut short");
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    bytes.subarray(headerStart, dataStart),
  );
  const { descr, fortran, shape } = parseHeader(header, fail);

  const order = descr[0]!;
  const code = descr.slice(1);
  const dataType = DESCR.get(code);
  if (dataType === undefined || !"<>|=".includes(order)) {
    throw fail(
      `dtype '${descr}' has no ONNX counterpart (supported: ${[...DESCR.keys()].join(", ")})`,
    );
  }
  const count = elementCount(shape);
  const size = byteLength(dataType, count);
  const available = bytes.length - dataStart;
  if (available < size) {
    throw fail(
      `the data is cut short: ${available} bytes where shape (${shape.join(", ")}) of ${dataTypeInfo(dataType).name} needs ${size}`,
    );
  }
  let data: Uint8Array = bytes.slice(dataStart, dataStart + size);
  const width = size / Math.max(count, 1);
  if (order === ">" && width > 1) data = swapBytes(data, width);
  if (fortran && shape.length > 1) data = fortranToC(data, shape, width);
  return Tensor.fromBytes(dataType, shape, data, { name });
}

function parseHeader(
  header: string,
  fail: (detail: string) => Error,
): { descr: string; fortran: boolean; shape: number[] } {
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shape === undefined) {
    throw fail(
      `the header is not a numpy header dict: ${JSON.stringify(header.trim().slice(0, 80))}`,
    );
  }
  const dims = shape
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map((s) => Number(s.replace(/L$/, "")));
  if (dims.some((d) => !Number.isInteger(d) || d < 0))
    throw fail(`the shape (${shape}) is not a tuple of sizes`);
  return { descr, fortran: fortran === "True", shape: dims };
}

function swapBytes(data: Uint8Array, width: number): Uint8Array {
  for (let i = 0; i < data.length; i += width) data.subarray(i, i + width).reverse();
  return data;
}

/** Fortran order is C order of the reversed shape: transpose it back, element by element. */
function fortranToC(data: Uint8Array, shape: readonly number[], width: number): Uint8Array {
  const out = new Uint8Array(data.length);
  const rank = shape.length;
  const count = elementCount(shape);
  const index = new Array<number>(rank).fill(0);
  for (let c = 0; c < count; c++) {
    // `index` is the C-order position of element c; its Fortran offset is sum index[k] * prod(shape[<k]).
    let offset = 0;
    let stride = 1;
    for (let k = 0; k < rank; k++) {
      offset += index[k]! * stride;
      stride *= shape[k]!;
    }
    out.set(data.subarray(offset * width, offset * width + width), c * width);
    for (let k = rank - 1; k >= 0; k--) {
      if (++index[k]! < shape[k]!) break;
      index[k] = 0;
    }
  }
  return out;
}

/**
 * A tensor as `.npy` bytes (format 1.0, little-endian, C order), as numpy.save writes it, so a
 * result can be read with `numpy.load`. Booleans and the numeric types numpy has.
 */
export function encodeNpy(tensor: Tensor): Uint8Array {
  const descr = [...DESCR].find(([, type]) => type === tensor.dataType)?.[0];
  if (!descr) {
    throw errors.irMisuse(`encodeNpy: ${dataTypeInfo(tensor.dataType).name} has no numpy type`);
  }
  const shape = tensor.dims.length === 1 ? `(${tensor.dims[0]},)` : `(${tensor.dims.join(", ")})`;
  let header = `{'descr': '${descr === "b1" ? "|b1" : `<${descr}`}', 'fortran_order': False, 'shape': ${shape}, }`;
  // The magic, version, length and header end on a multiple of 64 bytes, with a newline.
  const unpadded = MAGIC.length + 4 + header.length + 1;
  header += " ".repeat((64 - (unpadded % 64)) % 64);
  header += "\n";
  const data = tensor.bytes();
  const out = new Uint8Array(MAGIC.length + 4 + header.length + data.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(data, 10 + header.length);
  return out;
}
