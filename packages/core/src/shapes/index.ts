export type { InferContext, Inferred, OpInference, TensorInfo } from "./context.js";
export {
  addDims,
  broadcastShapes,
  divDims,
  mulDims,
  productDims,
  sameDim,
  subDims,
} from "./dims.js";
export {
  inferShapes,
  inferTypes,
  SHAPE_INFERENCE,
  type ShapeInferenceOptions,
  type ShapeInferenceReport,
} from "./infer.js";
