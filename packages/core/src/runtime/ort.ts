import type { InferenceSession, Tensor as OrtTensor } from "onnxruntime-node";
import { errors } from "../diagnostics.js";
import { DataType, dataTypeInfo } from "../ir/dtype.js";
import { Tensor } from "../ir/tensor.js";
import type { DataRecord } from "../plugin/types.js";
import type { ValueSignature } from "./signature.js";

export type OrtModule = typeof import("onnxruntime-node");
/** Feeds as ONNX Runtime takes them: input name → ORT tensor. */
export type OrtFeeds = Record<string, OrtTensor>;

type NumericArray =
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

/** IR data types ONNX Runtime's JavaScript tensors hold, with the typed array over their raw bytes. */
const ORT_TYPES = new Map<DataType, [OrtTensor.Type, (buffer: ArrayBuffer) => NumericArray]>([
  [DataType.FLOAT, ["float32", (b) => new Float32Array(b)]],
  [DataType.DOUBLE, ["float64", (b) => new Float64Array(b)]],
  [DataType.FLOAT16, ["float16", (b) => new Uint16Array(b)]],
  [DataType.INT8, ["int8", (b) => new Int8Array(b)]],
  [DataType.UINT8, ["uint8", (b) => new Uint8Array(b)]],
  [DataType.INT16, ["int16", (b) => new Int16Array(b)]],
  [DataType.UINT16, ["uint16", (b) => new Uint16Array(b)]],
  [DataType.INT32, ["int32", (b) => new Int32Array(b)]],
  [DataType.UINT32, ["uint32", (b) => new Uint32Array(b)]],
  [DataType.INT64, ["int64", (b) => new BigInt64Array(b)]],
  [DataType.UINT64, ["uint64", (b) => new BigUint64Array(b)]],
  [DataType.BOOL, ["bool", (b) => new Uint8Array(b)]],
]);
const IR_TYPES = new Map<string, DataType>([
  ...[...ORT_TYPES].map(([ir, [ort]]) => [ort as string, ir] as const),
  ["string", DataType.STRING],
]);

let loaded: Promise<OrtModule> | undefined;

/** onnxruntime-node, loaded on first use: most commands never start a session. */
export function loadOrt(): Promise<OrtModule> {
  loaded ??= import("onnxruntime-node").then((ort) => {
    // Unavailable providers log a C++ error before they throw; the thrown error is ours to report.
    if (ort.env.logLevel === undefined || ort.env.logLevel === "warning")
      ort.env.logLevel = "fatal";
    return ort;
  });
  return loaded;
}

export function toOrtTensor(ort: OrtModule, name: string, tensor: Tensor): OrtTensor {
  const dims = [...tensor.dims];
  if (tensor.dataType === DataType.STRING)
    return new ort.Tensor("string", tensor.toStrings(), dims);
  const type = ORT_TYPES.get(tensor.dataType);
  if (!type) throw unsupported(name, dataTypeInfo(tensor.dataType).name);
  // A copy: the typed array needs an aligned buffer of its own, and ORT may hold on to it.
  const bytes = tensor.bytes().slice();
  return new ort.Tensor(type[0], type[1](bytes.buffer), dims);
}

export function toOrtFeeds(ort: OrtModule, feeds: DataRecord): OrtFeeds {
  const result: OrtFeeds = {};
  for (const [name, tensor] of Object.entries(feeds)) result[name] = toOrtTensor(ort, name, tensor);
  return result;
}

export function fromOrtTensor(name: string, value: OrtTensor): Tensor {
  const dims = value.dims.map(Number);
  if (value.type === "string") return Tensor.fromStrings(dims, value.data as string[], { name });
  const type = IR_TYPES.get(value.type);
  if (type === undefined) throw unsupported(name, value.type);
  const data = value.data as NumericArray;
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  return Tensor.fromBytes(type, dims, bytes, { name });
}

export function fromOrtRecord(fetched: Record<string, OrtTensor>): DataRecord {
  const outputs: Record<string, Tensor> = {};
  for (const [name, value] of Object.entries(fetched)) outputs[name] = fromOrtTensor(name, value);
  return outputs;
}

/** A session's inputs or outputs as signatures: symbolic dims keep their names. */
export function signatureOf(metadata: readonly InferenceSession.ValueMetadata[]): ValueSignature[] {
  return metadata.map((m) =>
    m.isTensor
      ? {
          name: m.name,
          dataType: IR_TYPES.get(m.type) ?? DataType.UNDEFINED,
          dims: m.shape.map((d) => (typeof d === "number" && d >= 0 ? d : String(d))),
        }
      : { name: m.name, dataType: DataType.UNDEFINED, dims: [] },
  );
}

function unsupported(name: string, type: string) {
  return errors.irMisuse(
    `tensor "${name}" is ${type}, which ONNX Runtime's JavaScript API does not carry`,
  );
}
