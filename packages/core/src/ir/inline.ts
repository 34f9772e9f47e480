import { errors } from "../diagnostics.js";
import type { Graph } from "./graph.js";
import { Node } from "./node.js";
import { Value } from "./value.js";

export interface InlineOptions {
  /** What each of the source graph's inputs reads in the target graph, by input name. */
  readonly inputs: ReadonlyMap<string, Value>;
  /** Prefix for the copies' node and value names (`step3/`), so repeated copies stay unique. */
  readonly prefix: string;
  /**
   * Source initializers already copied into the target, shared between copies: a model
   * inlined K times stores its weights once. Filled by the call.
   */
  readonly initializers: Map<Value, Value>;
  /** Prefix for the names of initializers added to `target` (default none: names are kept). */
  readonly initializerPrefix?: string;
}

/**
 * Appends a copy of `source`'s nodes to `target`, wired to the given inputs, and returns the
 * copies of its outputs in order. Weights are shared (not duplicated) through `initializers`;
 * attributes and tensors are shared, being immutable. Graphs with control flow (If, Loop, Scan
 * bodies) are refused: their bodies would need copying with their outer-scope references.
 */
export function inlineGraph(source: Graph, target: Graph, options: InlineOptions): Value[] {
  const map = new Map<Value, Value>();
  for (const input of source.inputs) {
    const bound = options.inputs.get(input.name);
    if (!bound) throw errors.irMisuse(`inlineGraph: no value given for input "${input.name}"`);
    map.set(input, bound);
  }
  for (const [name, value] of source.initializers) {
    if (map.has(value)) continue; // an input with a default: the caller's value wins
    let shared = options.initializers.get(value);
    if (!shared) {
      const tensor = value.constValue;
      if (!tensor) throw errors.irMisuse(`inlineGraph: initializer "${name}" has no value`);
      shared = target.addInitializer(tensor, `${options.initializerPrefix ?? ""}${name}`);
      options.initializers.set(value, shared);
    }
    map.set(value, shared);
  }
  for (const node of source.nodes()) {
    if (node.subgraphs().length > 0) {
      throw errors.irMisuse(
        `inlineGraph: node "${node.name}" (${node.opType}) has a subgraph; graphs with control flow cannot be inlined yet`,
      );
    }
    const inputs = node.inputs.map((input) => {
      if (input === undefined) return undefined;
      const mapped = map.get(input);
      if (!mapped)
        throw errors.irMisuse(`inlineGraph: "${input.name}" is read before it is defined`);
      return mapped;
    });
    const outputs = node.outputs.map(
      (o) => new Value(o.name ? `${options.prefix}${o.name}` : "", o.type),
    );
    const copy = new Node({
      opType: node.opType,
      domain: node.domain,
      name: `${options.prefix}${node.name}`,
      overload: node.overload,
      inputs,
      outputs,
      attributes: [...node.attributes.values()],
    });
    node.outputs.forEach((o, i) => {
      map.set(o, outputs[i] as Value);
    });
    target.append(copy);
  }
  return source.outputs.map((output) => {
    const mapped = map.get(output);
    if (!mapped) throw errors.irMisuse(`inlineGraph: output "${output.name}" is not computed`);
    return mapped;
  });
}
