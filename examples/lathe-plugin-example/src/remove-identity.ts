import { definePass, type Node } from "@lathe/core";
import { removeIdentityOptionsSchema } from "./generated/options.js";

/** The options, written once: `npm run schema` turns this interface into the JSON Schema. */
export interface RemoveIdentityOptions {
  /**
   * Also remove Dropout nodes whose mask output is unused (at inference Dropout passes its input
   * through).
   * @default true
   */
  dropout: boolean;
  /**
   * Regular expressions on node names: matching nodes are kept.
   * @default []
   */
  keep: string[];
}

export const removeIdentity = definePass<RemoveIdentityOptions>({
  id: "example/remove-identity",
  summary: "Remove Identity (and inference Dropout) nodes, rewiring their consumers.",
  options: removeIdentityOptionsSchema,
  run(bundle, ctx) {
    const keep = ctx.options.keep.map((pattern) => new RegExp(pattern));
    const statistics = { removed: 0, "removed.Identity": 0, "removed.Dropout": 0, kept: 0 };
    for (const [component, model] of bundle.components) {
      const graphOutputs = new Set(model.graph.outputs);
      const nodes = [...model.graph];
      ctx.progress.start(nodes.length, component);
      for (const node of nodes) {
        ctx.progress.advance();
        const why = notRemovable(node, ctx.options.dropout);
        if (why === "other op") continue;
        const output = node.outputs[0]!;
        const input = node.inputs[0];
        const reason =
          why ??
          (keep.some((r) => r.test(node.name)) ? "name matches keep" : undefined) ??
          (graphOutputs.has(output) ? "its output is a graph output" : undefined) ??
          (input === undefined ? "no input" : undefined);
        if (reason) {
          statistics.kept++;
          if (ctx.explain) ctx.logger.info(`kept ${node.name || node.opType}: ${reason}`);
          continue;
        }
        output.replaceAllUsesWith(input!, model.graph);
        model.graph.remove(node);
        statistics.removed++;
        statistics[node.opType === "Identity" ? "removed.Identity" : "removed.Dropout"]++;
      }
    }
    ctx.logger.info(`removed ${statistics.removed} nodes`);
    return { bundle, modified: statistics.removed > 0, statistics };
  },
});

/** Why a node cannot go, "other op" when it is not one this pass removes. */
function notRemovable(node: Node, dropout: boolean): string | undefined {
  if (node.domain !== "") return "other op";
  if (node.opType === "Identity") return undefined;
  if (node.opType !== "Dropout" || !dropout) return "other op";
  const mask = node.outputs[1];
  return mask && mask.uses().length > 0 ? "its mask output is used" : undefined;
}
