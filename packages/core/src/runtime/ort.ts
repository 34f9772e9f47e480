import type { InferenceSession, Tensor as OrtTensor } from "onnxruntime-node";
import { errors } from "../diagnostics.js";
import { DataType, dataTypeInfo, decodeElements, type ElementArray } from "../ir/dtype.js";
import { Tensor } from "../ir/tensor.js";
import type { DataRecord } from "../plugin/types.js";
import type { ValueSignature } from "./signature.js";

export type OrtModule = typeof import("onnxruntime-node");
/** Feeds as ONNX Runtime takes them: input name → ORT tensor. */
export type OrtFeeds = Record<string, OrtTensor>;

/** IR data types ONNX Runtime's JavaScript tensors carry, which it names as `dataTypeInfo` does. */
export const ORT_DATA_TYPES: readonly DataType[] = [
  DataType.FLOAT,
  DataType.DOUBLE,
  DataType.FLOAT16,
  DataType.INT8,
  DataType.UINT8,
  DataType.INT16,
  DataType.UINT16,
  DataType.INT32,
  DataType.UINT32,
  DataType.INT64,
  DataType.UINT64,
  DataType.BOOL,
];
const IR_TYPES = new Map<string, DataType>([
  ...ORT_DATA_TYPES.map((type) => [dataTypeInfo(type).name, type] as const),
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
  const { dataType } = tensor;
  const type = dataTypeInfo(dataType).name;
  if (!ORT_DATA_TYPES.includes(dataType)) throw unsupported(name, type);
  // A copy: the typed array needs an aligned buffer of its own, and ORT may hold on to it.
  const bytes = tensor.bytes().slice();
  // float16 travels as its raw codes; the other types decode to a view of the copy.
  const data =
    dataType === DataType.FLOAT16
      ? new Uint16Array(bytes.buffer)
      : decodeElements(dataType, bytes, tensor.elementCount);
  return new ort.Tensor(type as OrtTensor.Type, data, dims);
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
  const data = value.data as ElementArray;
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
