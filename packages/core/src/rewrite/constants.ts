import { AttributeType, isAttributeRef } from "../ir/attribute.js";
import { DataType } from "../ir/dtype.js";
import { Tensor } from "../ir/tensor.js";
import type { Value } from "../ir/value.js";

/**
 * The constant a value always holds: an initializer's tensor or a `Constant` node's value
 * (exporters write literals as `Constant` nodes). Undefined for anything computed.
 */
export function constantOf(value: Value | undefined): Tensor | undefined {
  if (!value) return undefined;
  if (value.constValue instanceof Tensor) return value.constValue;
  const producer = value.producer();
  if (producer?.opType !== "Constant" || producer.domain !== "") return undefined;
  for (const a of producer.attributes.values()) {
    if (isAttributeRef(a)) continue;
    switch (a.type) {
      case AttributeType.TENSOR:
        return a.value;
      case AttributeType.FLOAT:
        return Tensor.fromArray(DataType.FLOAT, [], [a.value]);
      case AttributeType.INT:
        return Tensor.fromArray(DataType.INT64, [], [BigInt(a.value)]);
      case AttributeType.FLOATS:
        return Tensor.fromArray(DataType.FLOAT, [a.value.length], a.value);
      case AttributeType.INTS:
        return Tensor.fromArray(DataType.INT64, [a.value.length], a.value.map(BigInt));
      default:
        return undefined;
    }
  }
  return undefined;
}

/** The elements of a numeric constant as numbers (int64 beyond 2^53 loses precision). */
export function constantNumbers(value: Value | undefined): number[] | undefined {
  const tensor = constantOf(value);
  if (!tensor) return undefined;
  try {
    return Array.from(tensor.toArray() as ArrayLike<number | bigint>, Number);
  } catch {
    return undefined;
  }
}

/** The single element of a one-element numeric constant. */
export function constantScalar(value: Value | undefined): number | undefined {
  const numbers = constantNumbers(value);
  return numbers?.length === 1 ? numbers[0] : undefined;
}
