import type { DataType } from "./dtype.js";

/** One dimension: a fixed size, a symbolic name (`batch`), or unknown. */
export type Dim = number | string | null;

/** The type of a value (ONNX TypeProto). Tensor types are by far the most common. */
export type ValueType =
  | TensorType
  | {
      readonly kind: "sparse_tensor";
      readonly elemType: DataType;
      readonly shape?: Shape;
      readonly denotation?: string;
    }
  | { readonly kind: "sequence"; readonly elemType?: ValueType; readonly denotation?: string }
  | {
      readonly kind: "map";
      readonly keyType: DataType;
      readonly valueType?: ValueType;
      readonly denotation?: string;
    }
  | { readonly kind: "optional"; readonly elemType?: ValueType; readonly denotation?: string };

export interface TensorType {
  readonly kind: "tensor";
  readonly elemType: DataType;
  /** Absent when the rank is unknown. */
  readonly shape?: Shape;
  readonly denotation?: string;
}

/** Dims, plus the rarely used per-dimension denotations (`DATA_BATCH`, …) when present. */
export interface Shape {
  readonly dims: readonly Dim[];
  readonly denotations?: readonly (string | undefined)[];
}

export function tensorType(elemType: DataType, dims?: readonly Dim[]): TensorType {
  return dims === undefined
    ? { kind: "tensor", elemType }
    : { kind: "tensor", elemType, shape: { dims } };
}
