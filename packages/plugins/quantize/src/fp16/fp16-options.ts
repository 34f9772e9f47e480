export interface Fp16Options {
  /**
   * Keep the graph's inputs and outputs float32, with Casts inside: true (all), false (none), or
   * a list of names.
   * @default true
   */
  keepIoTypes: boolean | string[];
  /**
   * Op types that stay float32; the default is ONNX Runtime's float16 converter's.
   * (ORT transformers' float16.py DEFAULT_OP_BLOCK_LIST, onnxconverter-common's without Resize:
   * the ai.onnx.ml ops and the ops whose fp16 kernels are missing or lose accuracy.)
   * @default [
   *   "ArrayFeatureExtractor", "Binarizer", "CastMap", "CategoryMapper", "DictVectorizer",
   *   "FeatureVectorizer", "Imputer", "LabelEncoder", "LinearClassifier", "LinearRegressor",
   *   "Normalizer", "OneHotEncoder", "RandomUniformLike", "SVMClassifier", "SVMRegressor",
   *   "Scaler", "TreeEnsembleClassifier", "TreeEnsembleRegressor", "ZipMap",
   *   "NonMaxSuppression", "TopK", "RoiAlign", "Range", "CumSum", "Min", "Max", "Upsample"
   * ]
   */
  opBlockList: string[];
  /**
   * Node names that stay float32.
   * @default []
   */
  nodeBlockList: string[];
  /**
   * Smallest magnitude kept for nonzero initializer values (fp16's smallest subnormal); larger
   * than 65504 becomes ±65504.
   * @exclusiveMinimum 0
   * @default 5.96e-8
   */
  minPositive: number;
  /**
   * Where the model will run; auto: the recipe's first target provider. cpu logs a warning: ONNX
   * Runtime's CPU provider runs many fp16 ops as fp32 behind Casts, so fp16 is not faster there.
   * @default "auto"
   */
  target: "auto" | "cpu" | "gpu";
  /**
   * Automatic mixed precision, measured on real data (off while `calibration` is not set): each
   * layer (a Conv/MatMul/Gemm with its weight and the ops up to the next one) is converted alone
   * and its cost measured on the data; then the costliest layers stay float32, as few as keep
   * the whole model's error within `maxError`.
   * @default {}
   */
  mixed: MixedPrecisionOptions;
}

/** `mixed`: which layers stay float32, chosen by their measured cost. */
export interface MixedPrecisionOptions {
  /** Name of a recipe data set whose records the costs are measured on. */
  calibration?: string;
  /**
   * Records read from the data set.
   * @integer
   * @minimum 1
   * @default 16
   */
  samples?: number;
  /**
   * The error the converted model may have: relative L2 of its first output against float32's
   * over the records.
   * @exclusiveMinimum 0
   * @default 0.001
   */
  maxError?: number;
}
