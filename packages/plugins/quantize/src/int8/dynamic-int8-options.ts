import type { OptionsSchema } from "@lathe/core";
import type { Int8Kind } from "../common/quant-math.js";
import { type NodeFilterOptions, nodeFilterOptions } from "../common/select.js";

export interface DynamicInt8Options extends NodeFilterOptions {
  /** Ops whose constant weight is quantized: MatMul, Gemm, Gather (embeddings), Conv. */
  opTypes: ("MatMul" | "Gemm" | "Gather" | "Conv")[];
  /** One scale per output channel (column of the [K, N] weight) instead of one per tensor. */
  perChannel: boolean;
  /** Symmetric weights (zero point 0 for int8). */
  symmetric: boolean;
  /** 7-bit weights, for x86 CPUs without VNNI where u8·s8 products can saturate. */
  reduceRange: boolean;
  /** Weight type; ORT's CPU kernels take uint8 activations with int8 (default) or uint8 weights. */
  weightType: Int8Kind;
  /** Weights with fewer elements stay in float. */
  minElements: number;
  /**
   * `standard`: DynamicQuantizeLinear + MatMulInteger + Cast + Mul (+ Add), the pattern ORT
   * fuses into DynamicQuantizeMatMul at session start. `contrib`: that fused op directly.
   */
  format: "standard" | "contrib";
}

export const dynamicInt8Schema: OptionsSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    opTypes: {
      type: "array",
      items: { enum: ["MatMul", "Gemm", "Gather", "Conv"] },
      uniqueItems: true,
      default: ["MatMul", "Gemm", "Gather"],
      description:
        "Ops whose constant weight is quantized: MatMul and Gemm (run in int8), Gather (embedding tables stored in int8), Conv (ConvInteger; opt-in: on CPU it is often slower than float Conv, static-int8's QLinearConv is the fast form).",
    },
    ...nodeFilterOptions,
    perChannel: {
      type: "boolean",
      default: true,
      description: "One weight scale per output channel instead of one per tensor.",
    },
    symmetric: {
      type: "boolean",
      default: true,
      description: "Symmetric weight ranges (zero point 0 for int8 weights).",
    },
    reduceRange: {
      type: "boolean",
      default: false,
      description: "7-bit weights: avoids saturation of u8·s8 kernels on x86 CPUs without VNNI.",
    },
    weightType: {
      enum: ["int8", "uint8"],
      default: "int8",
      description:
        "Weight integer type (activations are uint8, as DynamicQuantizeLinear makes them).",
    },
    minElements: {
      type: "integer",
      minimum: 0,
      default: 256,
      description: "Weights with fewer elements stay in float.",
    },
    format: {
      enum: ["standard", "contrib"],
      default: "standard",
      description:
        "standard: DynamicQuantizeLinear + MatMulInteger + Cast + Mul (+ Add), which ORT fuses into DynamicQuantizeMatMul; contrib: com.microsoft DynamicQuantizeMatMul directly.",
    },
  },
};
