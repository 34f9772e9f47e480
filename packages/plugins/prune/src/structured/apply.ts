import {
  addConstant,
  attr,
  constantOf,
  type Graph,
  type NameScope,
  type Node,
  Tensor,
  type TensorType,
  tensorType,
  type Value,
} from "@lathe/core";
import type { Edits } from "./repair.js";
import type { ConstantSlot, Removal, TrackedAxis, UnitGroup } from "./trace.js";

/** The positions of `t` a removal keeps, ascending. */
export function keptPositions(t: TrackedAxis, removal: Removal): number[] {
  const kept: number[] = [];
  for (let p = 0; p < t.size; p++) if (removal.kept(t, p)) kept.push(p);
  return kept;
}

/** `tensor` with only entries `keep` of `axis`. */
export function sliceAxis(tensor: Tensor, axis: number, keep: readonly number[]): Tensor {
  const dims = tensor.dims;
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const size = dims[axis] as number;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const values = tensor.toArray() as Float32Array;
  const Typed = values.constructor as new (n: number) => Float32Array;
  const out = new Typed(outer * keep.length * inner);
  let o = 0;
  for (let a = 0; a < outer; a++)
    for (const k of keep) {
      const from = (a * size + k) * inner;
      out.set(values.subarray(from, from + inner), o);
      o += inner;
    }
  const newDims = dims.map((d, i) => (i === axis ? keep.length : d));
  return Tensor.fromArray(tensor.dataType, newDims, out, { name: tensor.name });
}

/** Replaces the constant operand `input` of `node` (initializer or Constant) by `tensor`. */
export function storeConstant(node: Node, input: number, tensor: Tensor): void {
  const value = node.inputs[input] as Value;
  if (value.constValue) {
    tensor.name = value.constValue.name || value.name;
    value.constValue = tensor;
  } else {
    value.producer()?.setAttribute(attr.tensor("value", tensor));
  }
  value.type = tensorType(tensor.dataType, tensor.dims);
}

/**
 * Removes the units from the graph: slices every coupled constant (or stores the refitted one
 * given in `replaced`), writes the planned shape constants, Split sizes, head-count attributes
 * and the declared dims of KV-cache inputs and outputs, and forgets the stale inferred types.
 */
export function applyRemoval(
  graph: Graph,
  group: UnitGroup,
  removal: Removal,
  edits: Edits,
  names: NameScope,
  replaced: ReadonlyMap<ConstantSlot, Tensor> = new Map(),
): void {
  for (const slot of group.constants) {
    // another group may have shrunk another axis of the same weight (a layer that reads one
    // group's units and produces another's): slice what is stored now
    const current = constantOf(slot.node.inputs[slot.input]) ?? slot.tensor;
    const tensor =
      replaced.get(slot) ?? sliceAxis(current, slot.axis, keptPositions(slot.tracked, removal));
    storeConstant(slot.node, slot.input, tensor);
  }
  for (const split of group.splitAttributes) {
    const sizes = split.node.outputs.map((o) => {
      const t = group.tracked.get(o) as TrackedAxis;
      return removal.size(t);
    });
    split.node.setAttribute(attr.ints("split", sizes));
  }
  for (const [node, inputs] of edits) {
    for (const [input, tensor] of inputs) {
      const stem = `${node.inputs[input]?.name || node.name}_pruned`;
      node.setInput(input, addConstant(graph, names, stem, tensor));
    }
  }
  for (const update of group.attributes) {
    update.node.setAttribute(attr.int(update.name, removal.size(update.tracked) / update.width));
  }
  const io = new Set(group.io.map((t) => t.value));
  for (const t of group.io) {
    const type = t.value.type as TensorType;
    const dims = type.shape?.dims.map((d, i) => (i === t.axis ? removal.size(t) : d));
    t.value.type = tensorType(type.elemType, dims);
  }
  for (const value of group.tracked.keys()) if (!io.has(value)) value.type = undefined;
  // a fused attention's unused present outputs are not tracked, but their declared head count is stale
  for (const update of group.attributes)
    for (const out of update.node.outputs)
      if (!graph.outputs.includes(out) && !io.has(out)) out.type = undefined;
}
