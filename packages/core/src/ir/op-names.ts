/**
 * Operator names the builder types as methods, so `b.MatMul(x, w)` type-checks without a
 * non-null assertion. Any other name still works at run time (`b.op("MyOp", …)` for clarity).
 */
// biome-ignore format: a packed table reads better than one name per line
export const ONNX_OPS = [
  "Abs", "Acos", "Acosh", "Add", "AffineGrid", "And", "ArgMax", "ArgMin", "Asin", "Asinh", "Atan",
  "Atanh", "Attention", "AveragePool", "BatchNormalization", "Bernoulli", "BitShift", "BitwiseAnd",
  "BitwiseNot", "BitwiseOr", "BitwiseXor", "BlackmanWindow", "Cast", "CastLike", "Ceil", "Celu",
  "CenterCropPad", "Clip", "Col2Im", "Compress", "Concat", "ConcatFromSequence", "Constant",
  "ConstantOfShape", "Conv", "ConvInteger", "ConvTranspose", "Cos", "Cosh", "CumSum", "DFT",
  "DeformConv", "DepthToSpace", "DequantizeLinear", "Det", "Div", "Dropout",
  "DynamicQuantizeLinear", "Einsum", "Elu", "Equal", "Erf", "Exp", "Expand", "EyeLike", "Flatten",
  "Floor", "GRU", "Gather", "GatherElements", "GatherND", "Gelu", "Gemm", "GlobalAveragePool",
  "GlobalLpPool", "GlobalMaxPool", "Greater", "GreaterOrEqual", "GridSample", "GroupNormalization",
  "HammingWindow", "HannWindow", "HardSigmoid", "HardSwish", "Hardmax", "Identity", "If",
  "InstanceNormalization", "IsInf", "IsNaN", "LRN", "LSTM", "LayerNormalization", "LeakyRelu",
  "Less", "LessOrEqual", "Log", "LogSoftmax", "Loop", "LpNormalization", "LpPool", "MatMul",
  "MatMulInteger", "Max", "MaxPool", "MaxRoiPool", "MaxUnpool", "Mean",
  "MeanVarianceNormalization", "MelWeightMatrix", "Min", "Mish", "Mod", "Mul", "Multinomial",
  "Neg", "NonMaxSuppression", "NonZero", "Not", "OneHot", "Optional", "OptionalGetElement",
  "OptionalHasElement", "Or", "PRelu", "Pad", "Pow", "QLinearConv", "QLinearMatMul",
  "QuantizeLinear", "RMSNormalization", "RNN", "RandomNormal", "RandomNormalLike", "RandomUniform",
  "RandomUniformLike", "Range", "Reciprocal", "ReduceL1", "ReduceL2", "ReduceLogSum",
  "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum",
  "ReduceSumSquare", "RegexFullMatch", "Relu", "Reshape", "Resize", "ReverseSequence", "RoiAlign",
  "RotaryEmbedding", "Round", "STFT", "Scan", "ScatterElements", "ScatterND", "Selu", "SequenceAt",
  "SequenceConstruct", "SequenceEmpty", "SequenceErase", "SequenceInsert", "SequenceLength",
  "SequenceMap", "Shape", "Shrink", "Sigmoid", "Sign", "Sin", "Sinh", "Size", "Slice", "Softmax",
  "Softplus", "Softsign", "SpaceToDepth", "Split", "SplitToSequence", "Sqrt", "Squeeze",
  "StringConcat", "StringNormalizer", "StringSplit", "Sub", "Sum", "Swish", "Tan", "Tanh",
  "TensorScatter", "TfIdfVectorizer", "ThresholdedRelu", "Tile", "TopK", "Transpose", "Trilu",
  "Unique", "Unsqueeze", "Upsample", "Where", "Xor",
] as const;

/** ONNX Runtime's com.microsoft operators that Lathe's passes emit or match. */
// biome-ignore format: a packed table reads better than one name per line
export const CONTRIB_OPS = [
  "Attention", "BiasAdd", "BiasGelu", "BiasSplitGelu", "DecoderMaskedMultiHeadAttention",
  "DynamicQuantizeMatMul", "FastGelu", "FusedMatMul", "GatherBlockQuantized", "Gelu", "GroupNorm",
  "GroupQueryAttention", "MatMulIntegerToFloat", "MatMulNBits", "MultiHeadAttention",
  "PackedAttention", "QAttention", "QuickGelu", "RotaryEmbedding", "SkipLayerNormalization",
  "SkipSimplifiedLayerNormalization", "SparseAttention",
] as const;

export type OnnxOpName = (typeof ONNX_OPS)[number];
export type ContribOpName = (typeof CONTRIB_OPS)[number];
