import type { Graph } from "../ir/graph.js";
import { Node } from "../ir/node.js";
import type { Value } from "../ir/value.js";
import { type DeadCodeReport, removeDeadFrom } from "./dead-code.js";
import type { NameScope } from "./naming.js";

export interface ReplaceOptions {
  /**
   * The replacement takes the old value's name and type even when it is not a graph output
   * (a quantized MatMul's output keeps the name downstream tools and value-info refer to).
   */
  takeName?: boolean;
}

/**
 * Makes every reader of `old` read `replacement`, in `graph` and its subgraphs. When `old` is an
 * output of `graph`, the output keeps its name and type (callers feed and fetch by name): the
 * replacement takes them over, or, when the replacement is a graph input or an initializer whose
 * name must not change, an Identity carries the name.
 */
export function replaceValue(
  old: Value,
  replacement: Value,
  graph: Graph,
  names: NameScope,
  options: ReplaceOptions = {},
): void {
  if (old === replacement) return;
  const isOutput = graph.outputs.includes(old);
  if (isOutput || options.takeName) {
    const pinned =
      graph.inputs.includes(replacement) ||
      graph.initializers.get(replacement.name) === replacement ||
      graph.outputs.includes(replacement) ||
      replacement.producer() === undefined;
    if (pinned && !isOutput) {
      old.replaceAllUsesWith(replacement, graph);
      return;
    }
    const name = old.name;
    old.name = names.name(`${name}_replaced`);
    let carrier = replacement;
    if (pinned) {
      const identity = new Node({
        opType: "Identity",
        name: names.name(`${name}_identity`),
        inputs: [replacement],
        outputs: [name],
      });
      graph.append(identity);
      carrier = identity.output;
    } else {
      replacement.name = name;
    }
    carrier.type = old.type ?? carrier.type;
    old.replaceAllUsesWith(carrier, graph);
    return;
  }
  old.replaceAllUsesWith(replacement, graph);
}

/**
 * Replaces a subgraph: each old value's readers (and graph-output slot) move to its replacement
 * (see `replaceValue`), then the nodes that computed the old values, and whatever only they read,
 * are removed. The new nodes must already be in `graph`; the graph is re-sorted when `sort`.
 */
export function replaceSubgraph(
  graph: Graph,
  replacements: Iterable<readonly [Value, Value]>,
  names: NameScope,
  options: ReplaceOptions & { sort?: boolean } = {},
): DeadCodeReport {
  const seeds: Node[] = [];
  for (const [old, replacement] of replacements) {
    replaceValue(old, replacement, graph, names, options);
    const producer = old.producer();
    if (producer) seeds.push(producer);
  }
  const report = removeDeadFrom(seeds, graph);
  if (options.sort ?? true) graph.sort();
  return report;
}

/**
 * Makes `replacement` take the place of `node`'s single output and removes `node` (and what
 * only it read). The output's name moves to the replacement when it is a graph output.
 */
export function replaceNode(
  graph: Graph,
  node: Node,
  replacement: Value,
  names: NameScope,
  options: ReplaceOptions = {},
): void {
  replaceSubgraph(graph, [[node.output, replacement]], names, { ...options, sort: false });
  if (node.graph === graph) graph.remove(node, { force: true });
}
