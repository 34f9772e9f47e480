import {
  decodeModel,
  encodeModel,
  type Graph,
  type Model,
  type Node,
  type PassContext,
  removeDeadCode,
  removeUnusedInitializers,
  type Value,
} from "@lathe/core";
import { calibrationRecords } from "../calibration.js";

/** One residual branch: `add = residual + f(residual)`, f's nodes used by nothing else. */
interface Branch {
  readonly add: Node;
  readonly residual: Value;
  readonly nodes: ReadonlySet<Node>;
  readonly attention: boolean;
}

/** A transformer block: an attention branch and the MLP branch after it. */
export interface Block {
  readonly name: string;
  readonly input: Value;
  readonly output: Value;
  readonly nodes: ReadonlySet<Node>;
}

const ATTENTION_OPS = new Set([
  "Softmax",
  "MultiHeadAttention",
  "GroupQueryAttention",
  "Attention",
]);

/** Residual branches of the main graph, in graph order. */
export function residualBranches(graph: Graph): Branch[] {
  const order = graph.nodes();
  const branches: Branch[] = [];
  for (const add of order) {
    if (add.opType !== "Add" || add.domain !== "" || add.inputs.length !== 2) continue;
    for (const side of [0, 1]) {
      const residual = add.inputs[side];
      const update = add.inputs[1 - side];
      if (!residual || !update || residual.isConstant || !update.producer()) continue;
      const nodes = between(residual, update);
      if (nodes.size === 0) continue;
      if (
        ![...nodes].some((n) => n.opType === "MatMul" || n.opType === "Gemm" || n.opType === "Conv")
      )
        continue;
      if (!isPrivate(nodes, add)) continue;
      branches.push({
        add,
        residual,
        nodes,
        attention: [...nodes].some((n) => ATTENTION_OPS.has(n.opType)),
      });
      break;
    }
  }
  return branches;
}

/** Transformer blocks: each attention branch with the MLP branch that follows it. */
export function transformerBlocks(graph: Graph): Block[] {
  const branches = residualBranches(graph);
  const blocks: Block[] = [];
  for (let i = 0; i + 1 < branches.length; i++) {
    const attention = branches[i] as Branch;
    const mlp = branches[i + 1] as Branch;
    if (!attention.attention || mlp.attention || mlp.residual !== attention.add.output) continue;
    blocks.push({
      name: attention.add.name,
      input: attention.residual,
      output: mlp.add.output,
      nodes: new Set([...attention.nodes, attention.add, ...mlp.nodes, mlp.add]),
    });
    i++;
  }
  return blocks;
}

/** Nodes on some path from `from` to `to` (to's producer included). */
function between(from: Value, to: Value): Set<Node> {
  const forward = new Set<Node>();
  const stack: Value[] = [from];
  const target = to.producer();
  // forward from `from`, not beyond the node that produces `to`'s consumers: bounded by `to`
  const backward = new Set<Node>();
  const back: Node[] = target ? [target] : [];
  while (back.length > 0) {
    const n = back.pop() as Node;
    if (backward.has(n)) continue;
    backward.add(n);
    for (const v of n.inputs) {
      const p = v?.producer();
      if (p && v !== from) back.push(p);
    }
  }
  while (stack.length > 0) {
    const v = stack.pop() as Value;
    for (const use of v.uses()) {
      if (!backward.has(use.node) || forward.has(use.node)) continue;
      forward.add(use.node);
      stack.push(...use.node.outputs);
    }
  }
  return forward;
}

/** Nothing outside the branch reads its values (a KV cache output aside). */
function isPrivate(nodes: ReadonlySet<Node>, add: Node): boolean {
  for (const n of nodes)
    for (const out of n.outputs)
      for (const use of out.uses()) if (use.node !== add && !nodes.has(use.node)) return false;
  return true;
}

/**
 * Removes the `count` blocks with the lowest block influence (1 − mean cosine between the
 * block's input and output per token, ShortGPT) on the calibration data: the block's output
 * readers read its input, its KV-cache inputs and outputs go, dead code is removed.
 */
export async function dropLayers(
  model: Model,
  count: number,
  context: PassContext<{ data?: string; samples: number }>,
): Promise<{ removed: string[]; scores: Map<string, number> }> {
  const graph = model.graph;
  const blocks = transformerBlocks(graph);
  const scores = await blockInfluence(model, blocks, context);
  if (count >= blocks.length && blocks.length > 0)
    context.logger.warn(
      `prune/structured: ${count} layers asked, ${blocks.length} found: one is kept`,
    );
  const order = blocks
    .map((_, i) => i)
    .sort((a, b) => (scores[a] as number) - (scores[b] as number) || a - b);
  const chosen = order.slice(0, Math.min(count, Math.max(0, blocks.length - 1)));
  for (const i of chosen.sort((a, b) => b - a)) {
    const block = blocks[i] as Block;
    block.output.replaceAllUsesWith(block.input, graph);
    for (const n of block.nodes)
      for (const out of n.outputs) {
        const at = graph.outputs.indexOf(out);
        if (at >= 0) graph.outputs.splice(at, 1);
      }
  }
  removeDeadCode(graph);
  for (let i = graph.inputs.length - 1; i >= 0; i--) {
    const input = graph.inputs[i] as Value;
    if (
      input.uses().length === 0 &&
      !graph.initializers.has(input.name) &&
      /past|cache/i.test(input.name)
    )
      graph.inputs.splice(i, 1);
  }
  removeUnusedInitializers(graph);
  return {
    removed: chosen.map((i) => (blocks[i] as Block).name),
    scores: new Map(blocks.map((b, i) => [b.name, scores[i] as number])),
  };
}

/** 1 − mean cos(input, output) of each block over the calibration tokens. */
async function blockInfluence(
  model: Model,
  blocks: readonly Block[],
  context: PassContext<{ data?: string; samples: number }>,
): Promise<number[]> {
  if (blocks.length === 0) return [];
  const copy = decodeModel(encodeModel(model));
  const byName = new Map<string, Value>();
  for (const node of copy.graph.nodes()) for (const o of node.outputs) byName.set(o.name, o);
  const inputs = new Set(copy.graph.inputs.map((v) => v.name));
  const names = new Set<string>();
  for (const b of blocks)
    for (const v of [b.input, b.output]) {
      const inCopy = byName.get(v.name);
      if (inputs.has(v.name)) continue;
      if (inCopy && !copy.graph.outputs.includes(inCopy)) copy.graph.outputs.push(inCopy);
      names.add(v.name);
    }
  const records = await calibrationRecords(model, context);
  const sums = blocks.map(() => ({ cos: 0, tokens: 0 }));
  const session = context.sessions.open ? await context.sessions.open(copy) : undefined;
  try {
    for (const record of records) {
      context.signal.throwIfAborted();
      const out = session
        ? await session.run(record, [...names])
        : (await context.sessions.run(copy, [record], { outputs: [...names] }))[0];
      blocks.forEach((b, i) => {
        const x = (out?.[b.input.name] ?? record[b.input.name])?.toArray() as
          | Float32Array
          | undefined;
        const y = out?.[b.output.name]?.toArray() as Float32Array | undefined;
        const width = lastDim(b.output);
        if (!x || !y || !width || x.length !== y.length) return;
        const s = sums[i] as { cos: number; tokens: number };
        for (let t = 0; t + width <= x.length; t += width) {
          let dot = 0;
          let nx = 0;
          let ny = 0;
          for (let j = t; j < t + width; j++) {
            dot += (x[j] as number) * (y[j] as number);
            nx += (x[j] as number) ** 2;
            ny += (y[j] as number) ** 2;
          }
          s.cos += dot / Math.sqrt(nx * ny || 1);
          s.tokens++;
        }
      });
    }
  } finally {
    await session?.release();
  }
  return sums.map((s) => 1 - (s.tokens ? s.cos / s.tokens : 0));
}

function lastDim(value: Value): number | undefined {
  const type = value.type;
  const dims = type?.kind === "tensor" ? type.shape?.dims : undefined;
  const last = dims?.[dims.length - 1];
  return typeof last === "number" ? last : undefined;
}
