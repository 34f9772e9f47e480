import {
  addConstant,
  constantOf,
  DataType,
  type Graph,
  insertNode,
  type NameScope,
  type Node,
  Tensor,
  type Value,
} from "@lathe/core";
import type { ChannelStatistics } from "./activations.js";
import { keptPositions } from "./apply.js";
import { ridgeRefit } from "./reconstruct.js";
import type { ConstantSlot, Removal, UnitGroup } from "./trace.js";

/**
 * Refits every layer of the group that reads the removed units (its kept rows, by the ridge
 * closed form on its input's calibration moments) and writes the new bias: into the Gemm's C,
 * the bias Add that follows the MatMul, or a new Add when the layer had none. Returns the new
 * weights for `applyRemoval` to store; reports each layer's relative error before and after.
 */
export function refitConsumers(
  graph: Graph,
  names: NameScope,
  group: UnitGroup,
  removal: Removal,
  statistics: ReadonlyMap<ConstantSlot, ChannelStatistics>,
  ridge: number,
  report: (consumer: string, before: number, after: number) => void,
): Map<ConstantSlot, Tensor> {
  const replaced = new Map<ConstantSlot, Tensor>();
  for (const slot of group.constants) {
    if (slot.role !== "consumer") continue;
    const stats = statistics.get(slot);
    const current = constantOf(slot.node.inputs[slot.input]) ?? slot.tensor;
    if (!stats?.moment || current.dims.length !== 2 || current.dataType !== DataType.FLOAT)
      continue;
    const keep = keptPositions(slot.tracked, removal);
    if (keep.length === slot.tracked.size) continue;
    const [rows = 0, cols = 0] = current.dims;
    const stored = current.toArray() as Float32Array;
    // W as [K, N]: a Gemm with transB stores [N, K]
    const transposed = slot.axis === 1;
    const N = transposed ? rows : cols;
    const W = transposed ? transpose(stored, rows, cols) : stored;
    const bias = biasOf(slot.node, N);
    const refit = ridgeRefit(
      { rows: stats.rows, sum: stats.sum, moment: stats.moment },
      W,
      bias?.values,
      keep,
      ridge,
    );
    const newW = Float32Array.from(refit.weight);
    const storedNew = transposed ? transpose(newW, keep.length, N) : newW;
    replaced.set(
      slot,
      Tensor.fromArray(
        DataType.FLOAT,
        transposed ? [N, keep.length] : [keep.length, N],
        storedNew,
        {
          name: slot.tensor.name,
        },
      ),
    );
    writeBias(graph, names, slot.node, bias, Float32Array.from(refit.bias));
    report(slot.node.name, refit.errorBefore, refit.errorAfter);
  }
  return replaced;
}

interface Bias {
  /** Where the bias is read: a node and input, or none (a bias Add is inserted). */
  readonly at: { node: Node; input: number } | undefined;
  readonly values: Float32Array;
}

/** The layer's bias as N values: Gemm's C, or the constant of the Add reading the MatMul alone. */
function biasOf(node: Node, N: number): Bias | undefined {
  const asVector = (value: Value | undefined): Float32Array | undefined => {
    const tensor = constantOf(value);
    if (!tensor || tensor.dataType !== DataType.FLOAT) return undefined;
    const values = tensor.toArray() as Float32Array;
    if (values.length === N) return Float32Array.from(values);
    if (values.length === 1) return new Float32Array(N).fill(values[0] as number);
    return undefined;
  };
  if (node.opType === "Gemm") {
    if (!node.inputs[2]) return { at: undefined, values: new Float32Array(N) };
    const values = asVector(node.inputs[2]);
    return values && node.getFloat("beta", 1) === 1
      ? { at: { node, input: 2 }, values }
      : undefined;
  }
  const uses = node.outputs[0]?.uses() ?? [];
  const add = uses.length === 1 && uses[0]?.node.opType === "Add" ? uses[0] : undefined;
  if (add) {
    const other = 1 - add.index;
    const values = asVector(add.node.inputs[other]);
    if (values) return { at: { node: add.node, input: other }, values };
  }
  return { at: undefined, values: new Float32Array(N) };
}

function writeBias(
  graph: Graph,
  names: NameScope,
  node: Node,
  bias: Bias | undefined,
  values: Float32Array,
): void {
  if (!bias) return; // a bias in a form not understood: the weights are refitted, the bias kept
  const tensor = Tensor.fromArray(DataType.FLOAT, [values.length], values);
  const constant = addConstant(graph, names, `${node.name}_bias_refit`, tensor);
  if (bias.at) {
    bias.at.node.setInput(bias.at.input, constant);
    return;
  }
  if (node.opType === "Gemm") {
    node.setInput(2, constant);
    return;
  }
  const out = node.outputs[0] as Value;
  if (graph.outputs.includes(out)) return;
  const readers = [...out.uses()];
  const add = insertNode(graph, names, readers[0]?.node, {
    opType: "Add",
    name: `${node.name}_bias`,
    inputs: [out, constant],
  });
  for (const use of readers) use.node.setInput(use.index, add.output);
}

function transpose(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c] as number;
  return out;
}
