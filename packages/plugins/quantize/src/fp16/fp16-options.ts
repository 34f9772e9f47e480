import type { OptionsSchema } from "@lathe/core";

/**
 * ORT transformers' float16.py DEFAULT_OP_BLOCK_LIST (onnxconverter-common's, without Resize):
 * the ai.onnx.ml ops and the ops whose fp16 kernels are missing or lose accuracy.
 */
export const DEFAULT_OP_BLOCK_LIST: readonly string[] = [
  "ArrayFeatureExtractor",
  "Binarizer",
  "CastMap",
  "CategoryMapper",
  "DictVectorizer",
  "FeatureVectorizer",
  "Imputer",
  "LabelEncoder",
  "LinearClassifier",
  "LinearRegressor",
  "Normalizer",
  "OneHotEncoder",
  "RandomUniformLike",
  "SVMClassifier",
  "SVMRegressor",
  "Scaler",
  "TreeEnsembleClassifier",
  "TreeEnsembleRegressor",
  "ZipMap",
  "NonMaxSuppression",
  "TopK",
  "RoiAlign",
  "Range",
  "CumSum",
  "Min",
  "Max",
  "Upsample",
];

export interface Fp16Options {
  /** Keep graph inputs and outputs float32 (Casts inside): all of them, none, or these names. */
  keepIoTypes: boolean | string[];
  /** Op types that stay float32 (Casts around them). */
  opBlockList: string[];
  /** Node names that stay float32. */
  nodeBlockList: string[];
  /** Initializer values are clamped to ±[minPositive, 65504] so none becomes 0 or infinity. */
  minPositive: number;
  /** Where the model will run (`auto`: the recipe's first provider): `cpu` logs a warning. */
  target: "auto" | "cpu" | "gpu";
}

export const fp16Schema: OptionsSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    keepIoTypes: {
      anyOf: [{ type: "boolean" }, { type: "array", items: { type: "string" } }],
      default: true,
      description:
        "Keep the graph's inputs and outputs float32, with Casts inside: true (all), false (none), or a list of names.",
    },
    opBlockList: {
      type: "array",
      items: { type: "string" },
      default: [...DEFAULT_OP_BLOCK_LIST],
      description: "Op types that stay float32; the default is ONNX Runtime's float16 converter's.",
    },
    nodeBlockList: {
      type: "array",
      items: { type: "string" },
      default: [],
      description: "Node names that stay float32.",
    },
    minPositive: {
      type: "number",
      exclusiveMinimum: 0,
      default: 5.96e-8,
      description:
        "Smallest magnitude kept for nonzero initializer values (fp16's smallest subnormal); larger than 65504 becomes ±65504.",
    },
    target: {
      enum: ["auto", "cpu", "gpu"],
      default: "auto",
      description:
        "Where the model will run; auto: the recipe's first target provider. cpu logs a warning: ONNX Runtime's CPU provider runs many fp16 ops as fp32 behind Casts, so fp16 is not faster there.",
    },
  },
};
