import * as ort from "onnxruntime-node";
import { randomFloats } from "./numbers.js";

/** ORT tensors for a test's feeds, written as the numbers they hold. */

/** A Float32Array is used as it is (ORT does not write to its inputs); other numbers are copied. */
export function float32Tensor(values: ArrayLike<number>, dims: readonly number[]): ort.Tensor {
  const data = values instanceof Float32Array ? values : Float32Array.from(values);
  return new ort.Tensor("float32", data, [...dims]);
}

/** Deterministic values in [-1, 1) (`randomFloats`) filling `dims`. */
export function randomFloat32Tensor(dims: readonly number[], seed: number): ort.Tensor {
  return new ort.Tensor("float32", randomFloats(count(dims), seed), [...dims]);
}

export function int64Tensor(
  values: ArrayLike<number | bigint> | Iterable<number | bigint>,
  dims: readonly number[],
): ort.Tensor {
  return new ort.Tensor("int64", BigInt64Array.from(values as Iterable<number>, BigInt), [...dims]);
}

/** A rectangular int64 tensor from rows of numbers: [rows, row length] (token ids, masks). */
export function int64Rows(rows: readonly (readonly number[])[]): ort.Tensor {
  return int64Tensor(rows.flat(), [rows.length, rows[0]?.length ?? 0]);
}

export function boolTensor(values: readonly boolean[], dims: readonly number[]): ort.Tensor {
  return new ort.Tensor("bool", Uint8Array.from(values, Number), [...dims]);
}

function count(dims: readonly number[]): number {
  return dims.reduce((product, d) => product * d, 1);
}
