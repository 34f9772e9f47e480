import type { OptionsSchema, PassTarget } from "@lathe/core";
import type { Int8Kind } from "../common/quant-math.js";
import { type NodeFilterOptions, nodeFilterOptions } from "../common/select.js";
import type { CalibratorKind } from "./calibrators.js";

export interface StaticInt8Options extends NodeFilterOptions {
  /** Ops quantized in QDQ form: Conv/MatMul/Gemm with a constant weight; Add/Mul/Concat on float values. */
  opTypes: ("Conv" | "MatMul" | "Gemm" | "Add" | "Mul" | "Concat")[];
  /** Recipe data set to calibrate on; generated inputs when absent. */
  calibration?: string;
  /** Records to generate when no data set is named. */
  calibrationSamples: number;
  /** Values for the inputs' symbolic dims when inputs are generated (input name → dims). */
  inputShapes: Record<string, number[]>;
  calibrator: CalibratorKind;
  /** The `percentile` calibrator's percentile. */
  percentile: number;
  /** Records per calibration run (bounds the activations held at once). */
  batchSize: number;
  perChannel: boolean;
  reduceRange: boolean;
  /** `auto`: what ORT prefers on the recipe's first provider (see `resolveActivationType`). */
  activationType: Int8Kind | "auto";
  weightType: Int8Kind;
  /** Activations in symmetric ranges (zero point in the middle). */
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

export const staticInt8Schema: OptionsSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    opTypes: {
      type: "array",
      items: { enum: ["Conv", "MatMul", "Gemm", "Add", "Mul", "Concat"] },
      uniqueItems: true,
      default: ["Conv", "MatMul", "Gemm"],
      description:
        "Ops quantized in QDQ form: Conv, MatMul, Gemm with a constant weight (ORT: QLinearConv, QLinearMatMul, MatMulIntegerToFloat); optionally Add, Mul, Concat on float values (QLinearAdd, QLinearMul, QLinearConcat).",
    },
    ...nodeFilterOptions,
    calibration: {
      type: "string",
      description:
        "Name of the recipe data set (under data:) to calibrate on; without it, inputs are generated.",
    },
    calibrationSamples: {
      type: "integer",
      minimum: 1,
      default: 8,
      description: "How many inputs to generate when no calibration data set is named.",
    },
    inputShapes: {
      type: "object",
      additionalProperties: { type: "array", items: { type: "integer", minimum: 1 } },
      default: {},
      description:
        "Dims of generated inputs (input name → dims); symbolic dims otherwise get 1 (batch) or 16.",
    },
    calibrator: {
      enum: ["minmax", "percentile", "entropy"],
      default: "minmax",
      description:
        "minmax: observed range; percentile: clip |x| at a percentile; entropy: TensorRT's KL-divergence threshold.",
    },
    percentile: {
      type: "number",
      exclusiveMinimum: 50,
      maximum: 100,
      default: 99.999,
      description: "The percentile calibrator's percentile of |x|.",
    },
    batchSize: {
      type: "integer",
      minimum: 1,
      default: 4,
      description:
        "Calibration records per ORT run: bounds the activations held in memory at once.",
    },
    perChannel: {
      type: "boolean",
      default: true,
      description: "One weight scale per output channel (Conv axis 0, MatMul axis 1).",
    },
    reduceRange: {
      type: "boolean",
      default: false,
      description: "7-bit weights, for x86 CPUs without VNNI (u8·s8 saturation).",
    },
    activationType: {
      enum: ["auto", "uint8", "int8"],
      default: "auto",
      description:
        "Activation type: uint8 (U8S8, ORT CPU's fast path) or int8 (S8S8); auto: symmetric int8 when the recipe targets tensorrt first (TensorRT's int8 form), uint8 otherwise.",
    },
    weightType: {
      enum: ["int8", "uint8"],
      default: "int8",
      description: "Weight type; int8 weights with int8 or uint8 activations, uint8 with uint8.",
    },
    activationSymmetric: {
      type: "boolean",
      default: false,
      description: "Symmetric activation ranges (ORT's default is asymmetric).",
    },
  },
};
