import { type Adapter, COMPATIBLE } from "../adapter.js";
import {
  gemmBroadcast,
  legacyBroadcast,
  preluChannelSlope,
  removeIsTest,
  rnnOutputSequence,
  upsampleScales7,
} from "./broadcast.js";
import {
  castTypeNumber,
  concatAxisRequired,
  removeConsumedInputs,
  reshapeShapeToInput,
} from "./early.js";
import {
  axesToInput,
  clipToInputs,
  dftAxisToInput,
  dropoutRatioToInput,
  padToInputs,
  sliceToInputs,
  splitNumOutputs,
  splitToInput,
  topKToInput,
  upsampleScalesToInput,
} from "./inputs.js";
import { resize10To11, resize13, upsampleToResize } from "./resize.js";
import {
  batchNormOutputs,
  batchNormSpatial,
  dropoutMask,
  gridSampleModes,
  groupNormPerChannel,
  roiAlignMode,
  scanWithoutBatch,
  scatterToScatterElements,
  softmaxAxis,
} from "./semantics.js";

/**
 * For each default-domain opset version from 2 to 23: the ops that existed before it and
 * whose schema changed at it, and how a node moves across. The facts are those of ONNX's own
 * version converter (onnx/version_converter/convert.h) and docs/Changelog.md; where the two
 * differ, the Changelog wins: Hardmax-13 changed meaning exactly as Softmax-13 did, and PRelu-7
 * broadcasts a per-channel slope onto the last axis, not axis 1; the converter's list calls
 * both compatible. Ops new at a version need no entry.
 */
const COMPATIBLE_AT: Record<number, string> = {
  6: "Gemm",
  // count_include_pad (AveragePool) was added with the old behaviour as its default.
  7: "AveragePool",
  8: "Max Min Mean Sum MaxPool",
  9: "Cast Constant Flatten Gemm Greater Less MatMul PRelu",
  10: "AveragePool MaxPool",
  11: `ArgMax ArgMin AveragePool Compress Concat Constant Conv ConvTranspose DepthToSpace Equal
    Flatten Gather Gemm Hardmax If LogSoftmax Loop LpPool MaxPool MaxUnpool NonMaxSuppression
    OneHot ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean ReduceMin
    ReduceProd ReduceSum ReduceSumSquare Scan Slice Softmax Split Squeeze TopK Unsqueeze`,
  12: "ArgMax ArgMin BatchNormalization Clip Constant GatherND Max MaxPool Min Pow ReduceMax ReduceMin",
  13: `Abs Add ArgMax ArgMin Cast Ceil Clip Concat Constant DepthToSpace DequantizeLinear Div
    Dropout Equal Erf Exp Expand Flatten Floor Gather GatherElements GatherND Gemm Greater
    Identity If IsNaN LRN Less Log Loop MatMul Max Mean MeanVarianceNormalization Min Mod Mul
    Neg NegativeLogLikelihoodLoss NonZero Pad Pow QuantizeLinear Reciprocal ReduceL1 ReduceL2
    ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean ReduceMin ReduceProd ReduceSumSquare Relu
    Reshape ScatterElements ScatterND Shape Sigmoid Sign Size Slice SoftmaxCrossEntropyLoss
    SpaceToDepth Sqrt Sub Sum Tanh Tile Transpose`,
  // layout (GRU/LSTM/RNN) was added with the old behaviour as its default.
  14: "Add CumSum Div Identity Mul Relu Reshape Sub GRU LSTM RNN",
  15: "BatchNormalization Pow Shape",
  16: `GreaterOrEqual Identity If LeakyRelu LessOrEqual Loop PRelu Scan ScatterElements ScatterND
    Where`,
  // ceil_mode (LpPool) was added with the old behaviour as its default.
  18: "OptionalGetElement OptionalHasElement Pad Resize ScatterElements ScatterND LpPool",
  19: `AveragePool Cast CastLike Constant DequantizeLinear Equal Identity If Loop Pad
    QuantizeLinear Reshape Resize Scan Shape Size`,
  20: "ConstantOfShape IsInf IsNaN ReduceMax ReduceMin",
  21: `Cast CastLike Constant ConstantOfShape DequantizeLinear Flatten Identity If Loop Pad
    QLinearMatMul QuantizeLinear Reshape Scan Shape Size Squeeze Transpose Unsqueeze`,
  22: `Acos Acosh Asin Asinh Atan Atanh AveragePool Bernoulli Conv ConvTranspose Cos Cosh
    DeformConv Det Dropout Elu EyeLike GRU GlobalAveragePool GlobalLpPool GlobalMaxPool
    GridSample HardSigmoid HardSwish InstanceNormalization LSTM LpNormalization LpPool MaxPool
    MaxRoiPool MaxUnpool Mish Multinomial NegativeLogLikelihoodLoss RNN RandomNormal
    RandomNormalLike RandomUniform RandomUniformLike RoiAlign Round Selu Sin Sinh Softplus
    Softsign Tan ThresholdedRelu`,
  23: `Cast CastLike Constant ConstantOfShape DequantizeLinear Flatten Identity If Loop Pad
    QuantizeLinear Reshape Scan Shape Size Squeeze Transpose Unsqueeze`,
};

const CONSUMED_INPUTS_6 = `Abs Add BatchNormalization Ceil Clip Div Dropout Elu Exp Floor HardSigmoid
  InstanceNormalization LeakyRelu Log Max Mean Min Mul Neg PRelu Reciprocal Relu Selu Sigmoid Sqrt
  Sub Sum Tanh`;

const BROADCAST_7 = "Add And Div Equal Greater Less Mul Or Pow Sub Xor";

const REDUCE_18 = `ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean ReduceMin
  ReduceProd ReduceSumSquare`;

/** Adapters that rewrite nodes: version → op → adapter. */
const REWRITES: Record<number, Record<string, Adapter>> = {
  4: { Concat: concatAxisRequired },
  5: { Reshape: reshapeShapeToInput },
  6: {
    ...Object.fromEntries(CONSUMED_INPUTS_6.split(/\s+/).map((op) => [op, removeConsumedInputs])),
    Cast: castTypeNumber,
  },
  7: {
    ...Object.fromEntries(BROADCAST_7.split(" ").map((op) => [op, legacyBroadcast])),
    BatchNormalization: removeIsTest,
    Dropout: removeIsTest,
    GRU: rnnOutputSequence,
    Gemm: gemmBroadcast,
    LSTM: rnnOutputSequence,
    PRelu: preluChannelSlope,
    RNN: rnnOutputSequence,
    Upsample: upsampleScales7,
  },
  9: {
    BatchNormalization: batchNormSpatial,
    Scan: scanWithoutBatch,
    Upsample: upsampleScalesToInput,
  },
  10: { Dropout: dropoutMask, Slice: sliceToInputs, TopK: topKToInput, Upsample: upsampleToResize },
  11: {
    Clip: clipToInputs,
    Pad: padToInputs,
    Resize: resize10To11,
    Scatter: scatterToScatterElements,
  },
  12: { Dropout: dropoutRatioToInput },
  13: {
    Hardmax: softmaxAxis,
    LogSoftmax: softmaxAxis,
    ReduceSum: axesToInput,
    Resize: resize13,
    Softmax: softmaxAxis,
    Split: splitToInput,
    Squeeze: axesToInput,
    Unsqueeze: axesToInput,
  },
  14: { BatchNormalization: batchNormOutputs },
  16: { RoiAlign: roiAlignMode },
  18: {
    Split: splitNumOutputs,
    ...Object.fromEntries(REDUCE_18.split(/\s+/).map((op) => [op, axesToInput])),
  },
  20: { DFT: dftAxisToInput, GridSample: gridSampleModes },
  21: { GroupNormalization: groupNormPerChannel },
};

/** The oldest and newest default-domain opsets `convertOpset` converts between. */
export const OLDEST_CONVERTIBLE_OPSET = 1;
export const NEWEST_CONVERTIBLE_OPSET = 23;

/** version → op → adapter, for every op that changed at that version. */
export const ADAPTERS: ReadonlyMap<number, ReadonlyMap<string, Adapter>> = new Map(
  Array.from({ length: NEWEST_CONVERTIBLE_OPSET - OLDEST_CONVERTIBLE_OPSET }, (_, i) => {
    const version = OLDEST_CONVERTIBLE_OPSET + 1 + i;
    const table = new Map<string, Adapter>();
    for (const op of (COMPATIBLE_AT[version] ?? "").split(/\s+/).filter(Boolean))
      table.set(op, COMPATIBLE);
    for (const [op, adapter] of Object.entries(REWRITES[version] ?? {})) table.set(op, adapter);
    return [version, table];
  }),
);
