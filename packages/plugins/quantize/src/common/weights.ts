import { DataType, type Node, Tensor, type Value } from "@lathe/core";

/** A float constant a node reads, found through what exporters put in front of it. */
export interface ConstantWeight {
  /** The value holding the stored tensor (an initializer or a Constant's output). */
  readonly source: Value;
  readonly tensor: Tensor;
  /** True when the node reads the stored tensor through a 2-D Transpose (tied LM heads). */
  readonly transposed: boolean;
  /** The Transpose in between, when there is one. */
  readonly via: Node | undefined;
}

/** The tensor of an initializer or of a `Constant` node's `value` attribute, if `value` is one. */
export function constantTensor(value: Value | undefined): Tensor | undefined {
  if (!value) return undefined;
  if (value.constValue instanceof Tensor) return value.constValue;
  const producer = value.producer();
  if (producer?.opType === "Constant" && producer.domain === "") {
    const a = producer.attribute("value");
    if (a && a.value instanceof Tensor) return a.value;
  }
  return undefined;
}

/**
 * A Gather of computed data (shape arithmetic: `Gather(Shape(x), i)`) reads no table: it is no
 * quantization candidate at all, neither quantized nor skipped, and not counted as a candidate.
 */
export function isComputedGather(node: Node): boolean {
  return node.opType === "Gather" && constantTensor(node.inputs[0]) === undefined;
}

/**
 * The float32 constant behind `value`: stored directly, or read through `Transpose(perm=[1,0])`
 * as Optimum writes a tied LM head (`MatMul(x, Transpose(wte))`). Undefined when the value is
 * computed at run time.
 */
export function findConstantWeight(value: Value | undefined): ConstantWeight | undefined {
  if (!value) return undefined;
  const direct = constantTensor(value);
  if (direct) return { source: value, tensor: direct, transposed: false, via: undefined };
  const producer = value.producer();
  if (producer?.opType === "Transpose" && producer.domain === "") {
    const inner = producer.inputs[0];
    const tensor = constantTensor(inner);
    const perm = producer.attributes.has("perm") ? producer.getInts("perm") : [1, 0];
    if (inner && tensor && tensor.dims.length === 2 && perm[0] === 1 && perm[1] === 0) {
      return { source: inner, tensor, transposed: true, via: producer };
    }
  }
  return undefined;
}

/**
 * Why a non-constant weight is left alone: a `ConstantOfShape` fill (onnx's light models store
 * every weight so) is one value repeated, which a quantized copy would only store larger.
 */
export function computedWeightReason(value: Value | undefined, name = "weight"): string {
  const producer = value?.producer();
  if (producer?.opType === "ConstantOfShape" && producer.domain === "")
    return `${name} is a ConstantOfShape fill (one value repeated): a quantized copy would only be larger`;
  return `${name} is computed at run time (not a constant)`;
}

/** Why a weight cannot be quantized, or undefined when it can; `value` is the node's weight input. */
export function weightProblem(
  weight: ConstantWeight | undefined,
  minElements: number,
  value?: Value,
) {
  if (!weight) return computedWeightReason(value);
  const { tensor } = weight;
  if (tensor.dataType !== DataType.FLOAT) return "weight is not float32";
  if (tensor.elementCount < minElements)
    return `weight has ${tensor.elementCount} elements (< minElements ${minElements})`;
  return undefined;
}

/** The weight's values as float32, copied (the tensor's bytes may be a view of the file). */
export function weightData(tensor: Tensor): Float32Array {
  return Float32Array.from(tensor.toArray() as Float32Array);
}
