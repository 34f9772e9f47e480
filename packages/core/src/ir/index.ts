export {
  type Attribute,
  type AttributeRef,
  AttributeType,
  type AttributeValue,
  type AttrString,
  attr,
  attributeFromJs,
  type Int64,
  isAttributeRef,
} from "./attribute.js";
export {
  type AttributeMap,
  type Builder,
  type BuilderOptions,
  createBuilder,
  type DomainOps,
  GraphBuilder,
  type OpCall,
  type OpOptions,
} from "./builder.js";
export * from "./dtype.js";
export { type FunctionInit, functionKey, OnnxFunction } from "./function.js";
export { Graph, type GraphInit, type TensorAnnotation } from "./graph.js";
export { type InlineOptions, inlineGraph } from "./inline.js";
export { DEFAULT_IR_VERSION, Model, type ModelInit } from "./model.js";
export { Node, type NodeInit } from "./node.js";
export { CONTRIB_OPS, type ContribOpName, ONNX_OPS, type OnnxOpName } from "./op-names.js";
export { SparseTensor } from "./sparse-tensor.js";
export {
  type ExternalDataRef,
  type ExternalReader,
  elementCount,
  Tensor,
  type TensorInit,
} from "./tensor.js";
export { type Dim, type Shape, type TensorType, tensorType, type ValueType } from "./types.js";
export { type Use, Value } from "./value.js";
