import type { Model, Node, Value } from "@lathe/core";
import type { WeightOnlyOptions } from "./options.js";
import type { GatherTarget, MatMulTarget } from "./targets.js";

/**
 * What a weight is to the model: an embedding table, the LM head (the product that makes the
 * logits) or the body (everything else). Embeddings and the head cost the most quality per bit
 * (on a byte-level GPT-2, the tied table at 4 bits cost 0.149 of 0.185 bits per byte lost), so
 * they get `headBits`.
 */
export type WeightRole = "body" | "head" | "embedding";

/** Bits for one weight: the first `bitsByName` pattern found in the node's name, else by role. */
export function createBitsResolver(
  options: Pick<WeightOnlyOptions, "bits" | "headBits" | "bitsByName">,
): (node: Node, role: WeightRole) => 4 | 8 {
  const overrides = Object.entries(options.bitsByName).map(
    ([pattern, bits]) => [new RegExp(pattern), bits] as const,
  );
  return (node, role) => {
    for (const [pattern, bits] of overrides) if (pattern.test(node.name)) return bits;
    return role === "body" ? options.bits : options.headBits;
  };
}

/** Ops between the LM head's product and the logits output that leave it the head. */
const PASS_THROUGH = new Set([
  "Reshape",
  "Transpose",
  "Squeeze",
  "Unsqueeze",
  "Flatten",
  "Identity",
  "Cast",
  "Add",
  "Mul",
  "Div",
  "Softmax",
  "LogSoftmax",
]);

/** Graph outputs that carry a KV cache, which K/V projections reach through reshapes. */
export const CACHE_OUTPUT = /present|past|cache|key|value/i;

/**
 * The LM heads among the targets: a product whose weight an embedding Gather also reads (tied),
 * or whose output reaches a graph output (not a KV cache) through reshapes and elementwise
 * scaling only.
 */
export function findHeads(
  model: Model,
  matmuls: readonly MatMulTarget[],
  gathers: readonly GatherTarget[],
): Set<Node> {
  const tables = new Set<Value>(gathers.map((g) => g.table));
  const outputs = new Set(model.graph.outputs.filter((v) => !CACHE_OUTPUT.test(v.name)));
  const heads = new Set<Node>();
  for (const t of matmuls) {
    if (tables.has(t.weight.source) || reachesOutput(t.node.output, outputs)) heads.add(t.node);
  }
  return heads;
}

function reachesOutput(value: Value, outputs: ReadonlySet<Value>): boolean {
  const seen = new Set<Value>();
  const queue = [value];
  while (queue.length > 0) {
    const v = queue.pop() as Value;
    if (outputs.has(v)) return true;
    if (seen.has(v)) continue;
    seen.add(v);
    for (const { node } of v.uses()) {
      if (node.domain === "" && PASS_THROUGH.has(node.opType)) queue.push(...node.outputs);
    }
  }
  return false;
}
