import { DataType, dataTypeInfo, Tensor } from "@lathe/core";
import * as OrtModule from "onnxruntime-node";

export const ort = OrtModule;
// Cases whose originals ORT rejects are expected (and excluded); their native error logs are noise.
ort.env.logLevel = "fatal";

export type OrtTensor = OrtModule.Tensor;
export type OrtSession = OrtModule.InferenceSession;
export type OrtResults = OrtModule.InferenceSession.OnnxValueMapType;

/** The typed array ORT uses for each numeric tensor type, keyed by ORT's type name. */
const ARRAY_OF: Record<
  string,
  { new (buffer: ArrayBuffer, offset: number, length: number): ArrayBufferView }
> = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
};

/** Whether ORT's JavaScript API can hold tensors of this type (no bfloat16, float8 or complex). */
export function ortSupports(dataType: DataType): boolean {
  return dataType === DataType.STRING || dataTypeInfo(dataType).name in ARRAY_OF;
}

/** An IR tensor as an ORT tensor (the bytes are copied: IR bytes may be unaligned file views). */
export function tensorToOrt(tensor: Tensor): OrtTensor {
  const dims = [...tensor.dims];
  if (tensor.dataType === DataType.STRING)
    return new ort.Tensor("string", tensor.toStrings(), dims);
  const type = dataTypeInfo(tensor.dataType).name;
  const ArrayType = ARRAY_OF[type];
  if (!ArrayType)
    throw new Error(`tensor "${tensor.name}": ORT's JavaScript API has no ${type} tensors`);
  const bytes = new Uint8Array(tensor.bytes()); // a copy with its own aligned buffer
  const data = new ArrayType(bytes.buffer, 0, tensor.elementCount);
  return new ort.Tensor(type as OrtModule.Tensor.Type, data as OrtModule.Tensor.DataType, dims);
}

/** An ORT tensor as an IR tensor with the same type, dims and bytes. */
export function tensorFromOrt(value: OrtTensor, name = ""): Tensor {
  const dims = [...value.dims];
  if (value.type === "string") return Tensor.fromStrings(dims, value.data as string[], { name });
  const info = irTypeOf(value.type);
  const data = value.data as ArrayBufferView;
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  return Tensor.fromBytes(info, dims, bytes, { name });
}

function irTypeOf(ortType: string): DataType {
  for (let type = DataType.FLOAT; type <= DataType.INT2; type++) {
    if (dataTypeInfo(type).name === ortType) return type;
  }
  throw new Error(`ORT tensor type "${ortType}" has no ONNX data type`);
}
