import type { Int8Kind } from "../common/quant-math.js";
import type { NodeFilterOptions } from "../common/select.js";

export interface DynamicInt8Options extends NodeFilterOptions {
  /**
   * Ops whose constant weight is quantized: MatMul and Gemm (run in int8), Gather (embedding
   * tables stored in int8), Conv (ConvInteger; opt-in: on CPU it is often slower than float Conv,
   * static-int8's QLinearConv is the fast form).
   * @uniqueItems
   * @default ["MatMul", "Gemm", "Gather"]
   */
  opTypes: ("MatMul" | "Gemm" | "Gather" | "Conv")[];
  /**
   * One weight scale per output channel instead of one per tensor.
   * @default true
   */
  perChannel: boolean;
  /**
   * Symmetric weight ranges (zero point 0 for int8 weights).
   * @default true
   */
  symmetric: boolean;
  /**
   * 7-bit weights: avoids saturation of u8·s8 kernels on x86 CPUs without VNNI.
   * @default false
   */
  reduceRange: boolean;
  /**
   * Weight integer type (activations are uint8, as DynamicQuantizeLinear makes them).
   * @default "int8"
   */
  weightType: Int8Kind;
  /**
   * Weights with fewer elements stay in float.
   * @integer
   * @minimum 0
   * @default 256
   */
  minElements: number;
  /**
   * standard: DynamicQuantizeLinear + MatMulInteger + Cast + Mul (+ Add), which ORT fuses into
   * DynamicQuantizeMatMul; contrib: com.microsoft DynamicQuantizeMatMul directly.
   * @default "standard"
   */
  format: "standard" | "contrib";
}
