import type { NodeFilterOptions } from "../common/select.js";

/** GPTQ settings (`algorithm: gptq`). */
export interface GptqOptions {
  /**
   * Name of a recipe data set to calibrate on; without it, token inputs are generated from the
   * recipe's seed.
   */
  calibration?: string;
  /**
   * Records read from the calibration data set, or token sequences generated (8 to a record).
   * @integer
   * @minimum 1
   * @default 32
   */
  samples: number;
  /**
   * Tokens per generated record (ignored with a recipe data set).
   * @integer
   * @minimum 1
   * @default 64
   */
  sequenceLength: number;
  /**
   * Damping added to the Hessian diagonal, as a fraction of its mean.
   * @exclusiveMinimum 0
   * @default 0.01
   */
  dampPercent: number;
  /**
   * Quantize columns by decreasing Hessian diagonal; block scales stay in K order (static groups).
   * @default false
   */
  actOrder: boolean;
  /**
   * Columns quantized together before the lazy update of the remaining ones.
   * @integer
   * @minimum 1
   * @default 128
   */
  blockSize: number;
}

export interface WeightOnlyOptions extends NodeFilterOptions {
  /**
   * Bits per weight: 4 or 8.
   * @default 4
   */
  bits: 4 | 8;
  /**
   * Bits for the embedding tables and the LM head (the product that makes the logits, tied to
   * the embedding or not). They cost the most quality per bit, so tools keep them wider
   * (llama.cpp Q4_K_M stores the output weight at 6 bits, ORT GenAI leaves them out of int4).
   * @default 8
   */
  headBits: 4 | 8;
  /**
   * Bits by node name: regular expression → 4 or 8, searched in the node's name; the first
   * matching pattern (in the order written) wins over `bits` and `headBits`.
   * @default {}
   */
  bitsByName: Record<string, 4 | 8>;
  /**
   * Measure, before quantizing, the fidelity cost of each layer group (embeddings, each layer,
   * the LM head) quantized alone on the calibration data (`gptq.calibration`, else generated
   * tokens): `sensitivity:` statistics, relative L2 of the model's first output. Also on with
   * `lathe run --explain`.
   * @default false
   */
  sensitivity: boolean;
  /**
   * Weights per block along K, each block with its own scale (and zero point): 16–256, a power
   * of two.
   * @default 32
   */
  blockSize: 16 | 32 | 64 | 128 | 256;
  /**
   * Symmetric blocks (implicit zero point 8 for 4-bit, 128 for 8-bit); false stores a zero point
   * per block.
   * @default true
   */
  symmetric: boolean;
  /**
   * MatMulNBits accuracy_level: 0 unset, 1 fp32, 2 fp16, 3 bf16, 4 int8 activations (fastest on
   * CPU).
   * @default 4
   */
  accuracyLevel: 0 | 1 | 2 | 3 | 4;
  /**
   * rtn: round each block to nearest; gptq: column-wise error feedback from calibration
   * activations (Hessian).
   * @default "rtn"
   */
  algorithm: "rtn" | "gptq";
  /**
   * contrib: com.microsoft MatMulNBits (and GatherBlockQuantized); portable: opset-21 blocked
   * DequantizeLinear + MatMul (the model's opset is raised to 21).
   * @default "contrib"
   */
  format: "contrib" | "portable";
  /**
   * Store constant embedding tables (Gather data) as com.microsoft GatherBlockQuantized (contrib
   * format only).
   * @default true
   */
  quantizeEmbedding: boolean;
  /**
   * Weights with fewer elements stay in float.
   * @integer
   * @minimum 0
   * @default 1024
   */
  minElements: number;
  /**
   * Weights whose K (input features) is smaller stay in float.
   * @integer
   * @minimum 1
   * @default 16
   */
  minK: number;
  /**
   * GPTQ settings (algorithm: gptq).
   * @default {}
   */
  gptq: GptqOptions;
}

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
