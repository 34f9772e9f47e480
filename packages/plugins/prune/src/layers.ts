import {
  constantOf,
  DataType,
  type GraphScope,
  type Node,
  type Tensor,
  type Value,
} from "@lathe/core";

/**
 * A weight seen as [outputs][inputs][spatial]: what every criterion and pattern works on. For
 * MatMul W[K, N] the inputs are K and the outputs N; Gemm's B likewise (transposed with
 * transB); Conv W[O, I/g, kh, kw] has O outputs, I/g inputs and kh·kw spatial positions.
 */
export interface Layer {
  readonly node: Node;
  readonly scope: GraphScope;
  /** The value holding the stored weight (an initializer or a Constant's output). */
  readonly weight: Value;
  readonly tensor: Tensor;
  readonly outputs: number;
  readonly inputs: number;
  readonly spatial: number;
  /** Flat index of element (output o, input i, spatial s) in the stored tensor. */
  index(o: number, i: number, s: number): number;
  /** The activation channel input i of output o reads (Conv groups shift it). */
  channel(o: number, i: number): number;
  /** The activation the weight multiplies, and the axis of its channels. */
  readonly activation: Value | undefined;
  readonly activationAxis: number;
}

export const PRUNABLE_OPS = ["MatMul", "Gemm", "Conv"] as const;

/** The layer a node is, or why it cannot be pruned. */
export function layerOf(node: Node, scope: GraphScope): Layer | string {
  if (node.domain !== "") return "not a default-domain op";
  const weightInput = node.opType === "Conv" ? 1 : 1;
  const weight = node.inputs[weightInput];
  const tensor = constantOf(weight);
  if (!weight || !tensor) {
    const via = weight?.producer();
    if (via?.opType === "Transpose")
      return "weight read through a Transpose (tied weights are not pruned)";
    // onnx's light models store every weight so: one value repeated, no magnitudes to rank
    if (via?.opType === "ConstantOfShape")
      return "weight is a ConstantOfShape fill (one value repeated: nothing to rank)";
    return "weight is computed at run time (not a constant)";
  }
  if (tensor.dataType !== DataType.FLOAT) return "weight is not float32";
  const dims = tensor.dims;
  const base = { node, scope, weight, tensor, activation: node.inputs[0] };
  switch (node.opType) {
    case "MatMul": {
      if (dims.length !== 2) return `weight has rank ${dims.length} (2 expected)`;
      const [k = 0, n = 0] = dims;
      return {
        ...base,
        outputs: n,
        inputs: k,
        spatial: 1,
        index: (o, i) => i * n + o,
        channel: (_, i) => i,
        activationAxis: -1,
      };
    }
    case "Gemm": {
      if (dims.length !== 2) return `weight has rank ${dims.length} (2 expected)`;
      if (node.getInt("transA", 0) !== 0) return "Gemm with transA";
      const trans = node.getInt("transB", 0) !== 0;
      const [a = 0, b = 0] = dims;
      const [k, n] = trans ? [b, a] : [a, b];
      return {
        ...base,
        outputs: n,
        inputs: k,
        spatial: 1,
        index: trans ? (o, i) => o * k + i : (o, i) => i * n + o,
        channel: (_, i) => i,
        activationAxis: -1,
      };
    }
    case "Conv": {
      if (dims.length < 3) return `weight has rank ${dims.length}`;
      const [o = 0, i = 0, ...rest] = dims;
      const s = rest.reduce((x, y) => x * y, 1);
      const group = node.getInt("group", 1);
      const perGroup = o / group;
      return {
        ...base,
        outputs: o,
        inputs: i,
        spatial: s,
        index: (oo, ii, ss) => (oo * i + ii) * s + ss,
        channel: (oo, ii) => Math.floor(oo / perGroup) * i + ii,
        activationAxis: 1,
      };
    }
    default:
      return `${node.opType} is not prunable`;
  }
}
