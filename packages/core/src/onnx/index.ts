export { modelFromProto, tensorFromProto, typeFromProto } from "./decode.js";
export { type EncodeOptions, type ExternalPlacement, modelToProto, typeToProto } from "./encode.js";
export { readExternalData } from "./external-data.js";
export * as proto from "./generated/onnx_pb.js";
export {
  type DecodeOptions,
  decodeModel,
  decodeTensor,
  type ExternalDataOptions,
  encodeModel,
  loadModel,
  PROTOBUF_LIMIT,
  type SaveOptions,
  type SaveResult,
  saveModel,
} from "./model-file.js";
export { type ByteSink, encodedSize, encodeToArray, encodeToSink } from "./proto-writer.js";
