import { definePass } from "@lathe/core";
import { nmOptionsSchema, unstructuredOptionsSchema } from "./generated/options.js";
import { type PruneCommonOptions, pruneBundle } from "./prune.js";

/** Options of `prune/unstructured`. */
export interface UnstructuredOptions extends PruneCommonOptions {
  /**
   * Share of each layer's weights set to zero (start low, 0.1–0.2, and raise it while the
   * fidelity holds).
   * @minimum 0
   * @exclusiveMaximum 1
   * @default 0.5
   */
  sparsity: number;
  /**
   * One threshold over all layers' scores instead of `sparsity` per layer: layers with many
   * unimportant weights lose more.
   * @default false
   */
  global: boolean;
}

/** Options of `prune/n-m`. */
export interface NmOptions extends PruneCommonOptions {
  /**
   * Weights kept in every group of M consecutive input channels.
   * @integer
   * @minimum 1
   * @default 2
   */
  n: number;
  /**
   * Group size along the input channels (2:4 is what sparse tensor cores run).
   * @integer
   * @minimum 2
   * @default 4
   */
  m: number;
}

export const unstructuredPass = definePass<UnstructuredOptions>({
  id: "prune/unstructured",
  summary:
    "Zeroes the least important weights of MatMul/Gemm/Conv layers (magnitude, Wanda or SparseGPT).",
  description:
    "Scores every weight by |W| (magnitude) or |W|·‖X‖ (Wanda: the input activation's norm per channel over calibration data) and zeroes the lowest `sparsity` of each layer (of each output with Wanda, as the paper does), or of all layers under one global threshold. SparseGPT chooses the mask block by block by w²/[H⁻¹]ᵢᵢ from the layer Hessian and updates the remaining weights to make up for the pruned ones. Shared weights are pruned once; what is skipped is counted with its reason.",
  options: unstructuredOptionsSchema,
  async run(bundle, context) {
    const { sparsity, global } = context.options;
    return pruneBundle(bundle, { kind: "unstructured", sparsity, global }, context);
  },
});

export const nmPass = definePass<NmOptions>({
  id: "prune/n-m",
  summary:
    "N:M semi-structured sparsity (2:4 by default): N of every M consecutive input weights kept.",
  description:
    "Keeps, in every group of M consecutive input channels of each output, the N weights with the highest magnitude, Wanda or SparseGPT score (SparseGPT also updates the remaining weights). NVIDIA's sparse tensor cores (TensorRT) run 2:4 faster; on the CPU the pattern changes fidelity only, and the pass says so.",
  options: nmOptionsSchema,
  async run(bundle, context) {
    const { n, m } = context.options;
    if (n >= m) {
      context.logger.warn(`n = ${n} keeps every weight of groups of ${m}: nothing is pruned`);
    }
    if (!context.target.providers.some((p) => p === "cuda" || p === "tensorrt")) {
      context.logger.info(
        `${n}:${m} sparsity runs faster only on sparse tensor cores (TensorRT); on ${context.target.providers.join(", ") || "cpu"} it changes the model's fidelity, not its speed or size`,
      );
    }
    return pruneBundle(bundle, { kind: "n-m", n, m }, context);
  },
});
