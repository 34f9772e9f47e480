import type { PassTarget } from "@lathe/core";
import type { Int8Kind } from "../common/quant-math.js";
import type { NodeFilterOptions } from "../common/select.js";
import type { CalibratorKind } from "./calibrators.js";

/** A dimension of a generated input. @integer @minimum 1 */
export type Dim = number;

export interface StaticInt8Options extends NodeFilterOptions {
  /**
   * Ops quantized in QDQ form: Conv, MatMul, Gemm with a constant weight (ORT: QLinearConv,
   * QLinearMatMul, MatMulIntegerToFloat); optionally Add, Mul, Concat on float values
   * (QLinearAdd, QLinearMul, QLinearConcat).
   * @uniqueItems
   * @default ["Conv", "MatMul", "Gemm"]
   */
  opTypes: ("Conv" | "MatMul" | "Gemm" | "Add" | "Mul" | "Concat")[];
  /**
   * Name of the recipe data set (under data:) to calibrate on; without it, inputs are generated.
   */
  calibration?: string;
  /**
   * Fail instead of calibrating on generated inputs when no data set is named. Generated inputs
   * always bring a `warning` statistic (log, report notes, `lathe run`'s table); this makes the
   * missing data an error.
   * @default false
   */
  requireCalibration: boolean;
  /**
   * Raise an older model's default-domain opset first when the conversion is exact (core's
   * convertOpset): QuantizeLinear needs opset 10, per-channel scales 13. False keeps the opset
   * and chooses the forms it has (one scale per weight below 13, nothing below 10).
   * @default true
   */
  convertOpset: boolean;
  /**
   * How many inputs to generate when no calibration data set is named.
   * @integer
   * @minimum 1
   * @default 8
   */
  calibrationSamples: number;
  /**
   * Dims of generated inputs (input name → dims), over the recipe's `target.shapes`; symbolic
   * dims neither names get 1 (batch) or 16.
   * @default {}
   */
  inputShapes: Record<string, Dim[]>;
  /**
   * minmax: observed range; percentile: clip |x| at a percentile; entropy: TensorRT's
   * KL-divergence threshold.
   * @default "minmax"
   */
  calibrator: CalibratorKind;
  /**
   * Entropy's squared-error guard: raise its threshold until clipping costs no more squared
   * error than the full min/max range. KL divergence counts how much is clipped, not how far:
   * without the guard it clipped up to 30 % of a text-line recognizer's activations (the
   * strokes against the white background) and the recognizer read nothing.
   * @default true
   */
  entropyGuard: boolean;
  /**
   * The percentile calibrator's percentile of |x|.
   * @exclusiveMinimum 50
   * @maximum 100
   * @default 99.999
   */
  percentile: number;
  /**
   * Calibration records per ORT run: bounds the activations held in memory at once.
   * @integer
   * @minimum 1
   * @default 4
   */
  batchSize: number;
  /**
   * One weight scale per output channel (Conv axis 0, MatMul axis 1).
   * @default true
   */
  perChannel: boolean;
  /**
   * 7-bit weights, for x86 CPUs without VNNI (u8·s8 saturation).
   * @default false
   */
  reduceRange: boolean;
  /**
   * Activation type: uint8 (U8S8, ORT CPU's fast path) or int8 (S8S8); auto: symmetric int8 when
   * the recipe targets tensorrt first (TensorRT's int8 form), uint8 otherwise.
   * @default "auto"
   */
  activationType: "auto" | Int8Kind;
  /**
   * Weight type; int8 weights with int8 or uint8 activations, uint8 with uint8.
   * @default "int8"
   */
  weightType: Int8Kind;
  /**
   * Symmetric activation ranges (ORT's default is asymmetric).
   * @default false
   */
  activationSymmetric: boolean;
}

/** The options with the activation form decided for the target. */
export type ResolvedStaticInt8Options = StaticInt8Options & { activationType: Int8Kind };

/**
 * `activationType: auto`: TensorRT builds int8 engines from symmetric int8 QDQ only (S8S8,
 * zero points 0); ORT's CPU, CUDA and WebGPU kernels take ORT's default, asymmetric uint8
 * activations with int8 weights (U8S8). An explicit type is kept as given.
 */
export function resolveActivationType(
  options: StaticInt8Options,
  target: PassTarget,
): ResolvedStaticInt8Options {
  if (options.activationType !== "auto") return options as ResolvedStaticInt8Options;
  return target.providers[0] === "tensorrt"
    ? { ...options, activationType: "int8", activationSymmetric: true }
    : { ...options, activationType: "uint8" };
}
