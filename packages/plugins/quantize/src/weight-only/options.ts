import type { OptionsSchema } from "@lathe/core";
import { type NodeFilterOptions, nodeFilterOptions } from "../common/select.js";

/** GPTQ settings (`algorithm: gptq`). */
export interface GptqOptions {
  /** Recipe data set to calibrate on; generated token inputs when absent. */
  calibration?: string;
  /** Records read from the data set, or sequences generated (8 to a record). */
  samples: number;
  /** Tokens per generated record (ignored with a recipe data set). */
  sequenceLength: number;
  /** Damping added to the Hessian's diagonal, as a fraction of its mean. */
  dampPercent: number;
  /** Quantize columns in order of decreasing Hessian diagonal (block scales stay in K order). */
  actOrder: boolean;
  /** Columns updated together before the lazy update of the rest. */
  blockSize: number;
}

export interface WeightOnlyOptions extends NodeFilterOptions {
  /** Bits per weight: 4 or 8. */
  bits: 4 | 8;
  /** Weights per block along K (one scale, one zero point each): a power of two, 16–256. */
  blockSize: number;
  /** Symmetric blocks (implicit zero point 8 or 128) instead of stored zero points. */
  symmetric: boolean;
  /** MatMulNBits `accuracy_level`: 0 unset, 1 fp32, 2 fp16, 3 bf16, 4 int8 activations. */
  accuracyLevel: 0 | 1 | 2 | 3 | 4;
  /** `rtn` (round to nearest) or `gptq` (error feedback from calibration activations). */
  algorithm: "rtn" | "gptq";
  /** `contrib`: com.microsoft MatMulNBits / GatherBlockQuantized; `portable`: opset-21 blocked DequantizeLinear + MatMul. */
  format: "contrib" | "portable";
  /** Store embedding tables (constant Gather data) as GatherBlockQuantized (contrib format only). */
  quantizeEmbedding: boolean;
  /** Weights with fewer elements stay in float. */
  minElements: number;
  /** Weights with a smaller K (rows of the [K, N] matrix) stay in float. */
  minK: number;
  gptq: GptqOptions;
}

export const weightOnlySchema: OptionsSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    bits: { enum: [4, 8], default: 4, description: "Bits per weight: 4 or 8." },
    blockSize: {
      enum: [16, 32, 64, 128, 256],
      default: 32,
      description:
        "Weights per block along K, each block with its own scale (and zero point): 16–256, a power of two.",
    },
    symmetric: {
      type: "boolean",
      default: true,
      description:
        "Symmetric blocks (implicit zero point 8 for 4-bit, 128 for 8-bit); false stores a zero point per block.",
    },
    accuracyLevel: {
      enum: [0, 1, 2, 3, 4],
      default: 4,
      description:
        "MatMulNBits accuracy_level: 0 unset, 1 fp32, 2 fp16, 3 bf16, 4 int8 activations (fastest on CPU).",
    },
    algorithm: {
      enum: ["rtn", "gptq"],
      default: "rtn",
      description:
        "rtn: round each block to nearest; gptq: column-wise error feedback from calibration activations (Hessian).",
    },
    format: {
      enum: ["contrib", "portable"],
      default: "contrib",
      description:
        "contrib: com.microsoft MatMulNBits (and GatherBlockQuantized); portable: opset-21 blocked DequantizeLinear + MatMul (the model's opset is raised to 21).",
    },
    quantizeEmbedding: {
      type: "boolean",
      default: true,
      description:
        "Store constant embedding tables (Gather data) as com.microsoft GatherBlockQuantized (contrib format only).",
    },
    ...nodeFilterOptions,
    minElements: {
      type: "integer",
      minimum: 0,
      default: 1024,
      description: "Weights with fewer elements stay in float.",
    },
    minK: {
      type: "integer",
      minimum: 1,
      default: 16,
      description: "Weights whose K (input features) is smaller stay in float.",
    },
    gptq: {
      type: "object",
      additionalProperties: false,
      default: {},
      description: "GPTQ settings (algorithm: gptq).",
      properties: {
        calibration: {
          type: "string",
          description:
            "Name of a recipe data set to calibrate on; without it, token inputs are generated from the recipe's seed.",
        },
        samples: {
          type: "integer",
          minimum: 1,
          default: 32,
          description:
            "Records read from the calibration data set, or token sequences generated (8 to a record).",
        },
        sequenceLength: {
          type: "integer",
          minimum: 1,
          default: 64,
          description: "Tokens per generated record (ignored with a recipe data set).",
        },
        dampPercent: {
          type: "number",
          exclusiveMinimum: 0,
          default: 0.01,
          description: "Damping added to the Hessian diagonal, as a fraction of its mean.",
        },
        actOrder: {
          type: "boolean",
          default: false,
          description:
            "Quantize columns by decreasing Hessian diagonal; block scales stay in K order (static groups).",
        },
        blockSize: {
          type: "integer",
          minimum: 1,
          default: 128,
          description: "Columns quantized together before the lazy update of the remaining ones.",
        },
      },
    },
  },
};

/** The GPTQ sub-options with defaults, whatever the engine filled in. */
export function gptqDefaults(options: Partial<GptqOptions> | undefined): GptqOptions {
  return {
    samples: 32,
    sequenceLength: 64,
    dampPercent: 0.01,
    actOrder: false,
    blockSize: 128,
    ...options,
  };
}
