import type { Tensor as OrtTensor } from "onnxruntime-node";
import { errors } from "../diagnostics.js";
import { DataType, dataTypeInfo } from "../ir/dtype.js";
import type { Model } from "../ir/model.js";
import { Tensor } from "../ir/tensor.js";
import { encodeModel } from "../onnx/model-file.js";
import type { DataRecord, SessionFactory } from "../plugin/types.js";

type OrtType = OrtTensor.Type;
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
const ORT_TYPES = new Map<DataType, [OrtType, (buffer: ArrayBuffer) => NumericArray]>([
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
const IR_TYPES = new Map<string, DataType>([...ORT_TYPES].map(([ir, [ort]]) => [ort, ir]));

/**
 * Sessions on ONNX Runtime's CPU provider: enough for passes that calibrate or compare outputs.
 * The runtime (providers chosen by the recipe's target) replaces it.
 */
export function createCpuSessions(options: { threads?: number } = {}): SessionFactory {
  return {
    async run(model: Model, inputs: readonly DataRecord[], runOptions = {}) {
      // Loaded on first use: most commands never start a session.
      const ort = await import("onnxruntime-node");
      const session = await ort.InferenceSession.create(encodeModel(model), {
        executionProviders: ["cpu"],
        ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
      });
      try {
        const results: DataRecord[] = [];
        for (const record of inputs) {
          const feeds: Record<string, OrtTensor> = {};
          for (const [name, tensor] of Object.entries(record)) {
            feeds[name] = toOrt(ort.Tensor, name, tensor);
          }
          const fetched = runOptions.outputs
            ? await session.run(feeds, [...runOptions.outputs])
            : await session.run(feeds);
          const outputs: Record<string, Tensor> = {};
          for (const [name, value] of Object.entries(fetched)) outputs[name] = fromOrt(name, value);
          results.push(outputs);
        }
        return results;
      } finally {
        await session.release();
      }
    },
  };
}

function toOrt(Ort: typeof OrtTensor, name: string, tensor: Tensor): OrtTensor {
  const dims = [...tensor.dims];
  if (tensor.dataType === DataType.STRING) return new Ort("string", tensor.toStrings(), dims);
  const type = ORT_TYPES.get(tensor.dataType);
  if (!type) throw unsupported(name, dataTypeInfo(tensor.dataType).name);
  // A copy: the typed array needs an aligned buffer of its own, and ORT may hold on to it.
  const bytes = tensor.bytes().slice();
  return new Ort(type[0], type[1](bytes.buffer), dims);
}

function fromOrt(name: string, value: OrtTensor): Tensor {
  const dims = value.dims.map(Number);
  if (value.type === "string") return Tensor.fromStrings(dims, value.data as string[], { name });
  const type = IR_TYPES.get(value.type);
  if (type === undefined) throw unsupported(name, value.type);
  const data = value.data as NumericArray;
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  return Tensor.fromBytes(type, dims, bytes, { name });
}

function unsupported(name: string, type: string) {
  return errors.irMisuse(
    `tensor "${name}" is ${type}, which ONNX Runtime's JavaScript API does not carry`,
  );
}
