import { constantOf, type Graph, type Node, type Value } from "@lathe/core";

/** What token merging may wrap: self-attention, cross-attention (queries only), feed-forward. */
export type MergeSite = "self-attention" | "cross-attention" | "feed-forward";

/**
 * A part of a transformer block that maps [batch, tokens, width] to [batch, tokens, width] token
 * by token except inside attention: its input `input`, its output `output` and every node between
 * them. Merging rewires the region's reads of `input` to the merged tokens and the outside's
 * reads of `output` to the unmerged ones.
 */
export interface TokenRegion {
  readonly site: MergeSite;
  /** The block's name, from the attention node's (or the first projection's) name. */
  readonly block: string;
  readonly input: Value;
  readonly output: Value;
  readonly nodes: ReadonlySet<Node>;
  /** Hidden width (the input projection's rows). */
  readonly width: number;
  /** Self-attention: the key projection (a MatMul with a constant weight, and its bias Add). */
  readonly keyProjection?: { readonly matmul: Node; readonly bias?: Node };
}

/** An attention region found, or why an attention node could not be wrapped. */
export type Found = { region: TokenRegion } | { declined: string; block: string };

const FUSED = new Set(["MultiHeadAttention", "Attention", "GroupQueryAttention"]);
const PASS_THROUGH = new Set([
  "Reshape",
  "Transpose",
  "Cast",
  "Identity",
  "Squeeze",
  "Unsqueeze",
  "Mul",
  "Div",
  "Add",
  "Sub",
]);

/** Every attention node (an unfused Softmax or a fused attention op) of the graph. */
export function attentionNodes(graph: Graph): Node[] {
  return graph
    .nodes()
    .filter(
      (n) =>
        (n.opType === "Softmax" && n.domain === "") ||
        (FUSED.has(n.opType) && (n.domain === "com.microsoft" || n.domain === "")),
    );
}

/**
 * The region of one attention node: from the input of its query projection to the output of its
 * output projection (with its bias). Self-attention when the keys are projected from that same
 * input; cross-attention otherwise.
 */
export function attentionRegion(graph: Graph, core: Node): Found {
  const block = blockName(core);
  const operands = attentionOperands(core);
  if (!operands) return { declined: "no query·key product found before the Softmax", block };
  const query = projectionAbove(operands.query);
  const key = projectionAbove(operands.key);
  if (!query) return { declined: "no query projection (MatMul with a constant weight)", block };
  const output = projectionBelow(core);
  if (!output) return { declined: "no output projection after the attention", block };
  const self = key !== undefined && key.input === query.input;
  const region = between(query.input, output, graph);
  if (typeof region === "string") return { declined: region, block };
  if (!region.has(core)) return { declined: "the attention is not between its projections", block };
  return {
    region: {
      site: self ? "self-attention" : "cross-attention",
      block,
      input: query.input,
      output,
      nodes: region,
      width: query.width,
      ...(self && key ? { keyProjection: { matmul: key.matmul, bias: key.bias } } : {}),
    },
  };
}

/**
 * The feed-forward after an attention region: the residual stream continues from the Add that
 * adds the attention's output; the next residual Add whose update holds no attention is the
 * feed-forward, wrapped from the input of its first projection (after its norm) to its output.
 */
export function feedForwardAfter(graph: Graph, attention: TokenRegion, cores: Set<Node>): Found {
  let stream = residualSum(attention.output);
  for (let hop = 0; stream && hop < 4; hop++) {
    const next = residualUpdate(stream);

    if (!next) break;
    const upstream = ancestorsUntil(next.update, stream);
    if ([...upstream].some((n) => cores.has(n))) {
      stream = next.sum;
      continue;
    }
    const from = stream;
    const first = [...upstream].find(
      (n) =>
        weightMatMul(n) &&
        n.inputs[0] !== undefined &&
        ![...ancestorsUntil(n.inputs[0] as Value, from)].some(weightMatMul),
    );
    const input = first?.inputs[0];
    if (!first || !input) break;
    const region = between(input, next.update, graph);
    if (typeof region === "string") return { declined: region, block: attention.block };
    return {
      region: {
        site: "feed-forward",
        block: attention.block,
        input,
        output: next.update,
        nodes: region,
        width: weightRows(first),
      },
    };
  }
  return { declined: "no feed-forward residual found after the attention", block: attention.block };
}

/** The scores' two operands: for a Softmax, the MatMul before it; for a fused op, Q and K. */
function attentionOperands(core: Node): { query: Value; key: Value } | undefined {
  if (core.opType !== "Softmax") {
    const [query, key] = core.inputs;
    return query && key ? { query, key } : undefined;
  }
  let frontier: Value[] = core.inputs[0] ? [core.inputs[0]] : [];
  for (let depth = 0; depth < 6 && frontier.length > 0; depth++) {
    const next: Value[] = [];
    for (const value of frontier) {
      const node = value.producer();
      if (!node || shapeDerived(value)) continue;
      if (node.opType === "MatMul" && !weightMatMul(node)) {
        const [query, key] = node.inputs;
        return query && key ? { query, key } : undefined;
      }
      if (PASS_THROUGH.has(node.opType) || node.opType === "Where")
        next.push(...node.inputs.filter((v): v is Value => v !== undefined));
    }
    frontier = next;
  }
  return undefined;
}

interface Projection {
  readonly matmul: Node;
  readonly bias?: Node;
  readonly input: Value;
  readonly width: number;
}

/** Walks up from Q (or K) through reshapes, transposes and scalings to its projection MatMul. */
function projectionAbove(start: Value): Projection | undefined {
  let value: Value | undefined = start;
  let bias: Node | undefined;
  for (let depth = 0; value && depth < 12; depth++) {
    const node = value.producer();
    if (!node) return undefined;
    if (weightMatMul(node)) {
      const input = node.inputs[0];
      return input ? { matmul: node, bias, input, width: weightRows(node) } : undefined;
    }
    if (!PASS_THROUGH.has(node.opType)) return undefined;
    const data: Value[] = node.inputs.filter(
      (v): v is Value => v !== undefined && !shapeDerived(v),
    );
    const constants = node.inputs.filter((v) => v !== undefined && constantOf(v) !== undefined);
    if (node.opType === "Add" && constants.length === 1) bias = node;
    if (data.length !== 1) return undefined;
    value = data[0];
  }
  return undefined;
}

/** Walks down from the attention through the context's reshapes to the output projection (and bias). */
function projectionBelow(core: Node): Value | undefined {
  let value: Value | undefined = core.outputs[0];
  for (let depth = 0; value && depth < 12; depth++) {
    const readers = value.uses().filter((u) => !shapeOnly(u.node));
    if (readers.length !== 1) return undefined;
    const node = readers[0]?.node as Node;
    if (weightMatMul(node)) {
      // the bias, then diffusers' `/ rescale_output_factor` (a constant Div)
      let out = node.outputs[0] as Value;
      for (const op of ["Add", "Div", "Mul"]) {
        const after = out.uses().filter((u) => !shapeOnly(u.node));
        const next = after.length === 1 ? after[0]?.node : undefined;
        const operands = op === "Div" ? next?.inputs.slice(1) : next?.inputs;
        if (next?.opType === op && operands?.some((v) => v && constantOf(v) !== undefined))
          out = next.outputs[0] as Value;
      }
      return out;
    }
    const passes =
      PASS_THROUGH.has(node.opType) ||
      (node.opType === "MatMul" && core.opType === "Softmax") || // probabilities · V
      node.opType === "Cast";
    if (!passes) return undefined;
    value = node.outputs[0];
  }
  return undefined;
}

/**
 * Nodes on a path from `input` to `output` (the producer of `output` included), checked to be a
 * closed region: nothing computed inside but `output` is read outside it.
 */
function between(input: Value, output: Value, graph: Graph): Set<Node> | string {
  const upstream = ancestorsUntil(output, input);
  const region = new Set<Node>();
  // forward from the input, staying among the output's ancestors
  const queue = input.uses().map((u) => u.node);
  while (queue.length > 0) {
    const node = queue.pop() as Node;
    if (region.has(node) || !upstream.has(node)) continue;
    region.add(node);
    for (const out of node.outputs) for (const use of out.uses()) queue.push(use.node);
  }
  if (!output.producer() || !region.has(output.producer() as Node))
    return "the output does not depend on the input";
  for (const node of region) {
    for (const out of node.outputs) {
      if (out === output) continue;
      if (graph.outputs.includes(out)) return `"${out.name}" inside the block is a graph output`;
      const outside = out.uses().find((u) => !region.has(u.node));
      if (outside)
        return `"${out.name}" inside the block is also read by "${outside.node.name}" outside it`;
    }
  }
  return region;
}

/** Ancestors of `value` (its producer included), not walking above `stop`. */
function ancestorsUntil(value: Value, stop: Value): Set<Node> {
  const seen = new Set<Node>();
  const stack = [value];
  while (stack.length > 0) {
    const v = stack.pop() as Value;
    if (v === stop) continue;
    const node = v.producer();
    if (!node || seen.has(node)) continue;
    seen.add(node);
    for (const input of node.inputs) if (input) stack.push(input);
  }
  return seen;
}

/** The stream value after `update` is added to it (the residual Add reading `update`). */
function residualSum(update: Value): Value | undefined {
  const adds = update.uses().filter((u) => u.node.opType === "Add");
  return adds.length === 1 ? adds[0]?.node.outputs[0] : undefined;
}

/** The next residual Add: it reads the stream and an update computed from the stream. */
function residualUpdate(stream: Value): { update: Value; sum: Value } | undefined {
  for (const use of stream.uses()) {
    if (use.node.opType !== "Add") continue;
    const update = use.node.inputs[1 - use.index];
    if (!update || update === stream) continue;
    if (ancestorsUntil(update, stream).size > 0 && dependsOn(update, stream))
      return { update, sum: use.node.outputs[0] as Value };
  }
  return undefined;
}

function dependsOn(value: Value, on: Value): boolean {
  const seen = new Set<Value>();
  const stack = [value];
  while (stack.length > 0) {
    const v = stack.pop() as Value;
    if (v === on) return true;
    if (seen.has(v)) continue;
    seen.add(v);
    for (const input of v.producer()?.inputs ?? []) if (input) stack.push(input);
  }
  return false;
}

/** A MatMul (or Gemm) whose second operand is a constant 2-D weight: a projection. */
function weightMatMul(node: Node): boolean {
  if (node.domain !== "" || (node.opType !== "MatMul" && node.opType !== "Gemm")) return false;
  const weight = node.inputs[1] ? constantOf(node.inputs[1]) : undefined;
  return weight !== undefined && weight.dims.length === 2;
}

function weightRows(node: Node): number {
  const weight = constantOf(node.inputs[1] as Value);
  const [rows = 0, cols = 0] = weight?.dims ?? [];
  return node.opType === "Gemm" && node.getInt("transB", 0) === 1 ? cols : rows;
}

const SHAPE_SOURCES = new Set(["Shape", "Size", "Constant", "ConstantOfShape"]);
const shapeMemo = new WeakMap<Value, boolean>();

/** A value computed only from shapes and constants (a Reshape's target, a scale from Shape(q)). */
function shapeDerived(value: Value): boolean {
  const known = shapeMemo.get(value);
  if (known !== undefined) return known;
  let result: boolean;
  const node = value.producer();
  if (constantOf(value) !== undefined) result = true;
  else if (!node) result = false;
  else if (SHAPE_SOURCES.has(node.opType)) result = true;
  else result = node.inputs.every((v) => v === undefined || shapeDerived(v));
  shapeMemo.set(value, result);
  return result;
}

function shapeOnly(node: Node): boolean {
  return node.opType === "Shape" || node.opType === "Size";
}

/** "/down_blocks.0/attentions.0/transformer_blocks.0/attn1/Softmax" → its folder without "/Softmax". */
function blockName(core: Node): string {
  const attention = /^(.*\/attn\d+)(\/|$)/.exec(core.name);
  if (attention?.[1]) return attention[1];
  const slash = core.name.lastIndexOf("/");
  return slash > 0 ? core.name.slice(0, slash) : core.name || core.opType;
}
