import { constantOf, defineMetric, graphScopes, type Tensor } from "@lathe/core";
import { sparsityMetricOptionsSchema } from "./generated/options.js";
import { PRUNABLE_OPS } from "./layers.js";

export interface SparsityMetricOptions {
  /**
   * Weights with fewer elements are not counted (biases, tiny projections).
   * @integer
   * @minimum 0
   * @default 1024
   */
  minElements: number;
}

/**
 * `prune/sparsity`: the share of zeros among the constant weights of MatMul, Gemm and Conv
 * layers (every graph), so that a recipe can select the sparsest candidate whose fidelity holds.
 */
export const sparsityMetric = defineMetric<SparsityMetricOptions>({
  id: "prune/sparsity",
  summary: "Share of zero weights in the MatMul, Gemm and Conv layers.",
  options: sparsityMetricOptionsSchema,
  values: { sparsity: "higher" },
  deterministic: true,
  async measure(candidate, context) {
    let zeros = 0;
    let total = 0;
    const seen = new Set<Tensor>();
    for (const model of candidate.components.values()) {
      for (const scope of graphScopes(model)) {
        for (const node of scope.graph.nodes()) {
          if (!(PRUNABLE_OPS as readonly string[]).includes(node.opType)) continue;
          const tensor = constantOf(node.inputs[1]);
          if (!tensor || seen.has(tensor) || tensor.elementCount < context.options.minElements)
            continue;
          seen.add(tensor);
          const values = tensor.toArray() as ArrayLike<number>;
          for (let i = 0; i < values.length; i++) if (values[i] === 0) zeros++;
          total += values.length;
        }
      }
    }
    return { sparsity: total ? zeros / total : 0 };
  },
});
