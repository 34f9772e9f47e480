import type { Model } from "../ir/model.js";

/** The op types of a model's main graph, counted (`{ MatMul: 2, Softmax: 1 }`). */
export function opCounts(model: Model): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const node of model.graph) counts[node.opType] = (counts[node.opType] ?? 0) + 1;
  return counts;
}
