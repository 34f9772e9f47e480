import type { Tensor } from "./tensor.js";

/**
 * A sparse tensor in COO form (ONNX SparseTensorProto): `values` holds the non-zeros and
 * `indices` their positions, either [nnz, rank] coordinates or [nnz] linearized indices.
 * Its name is `values.name`.
 */
export class SparseTensor {
  constructor(
    readonly values: Tensor,
    readonly indices: Tensor | undefined,
    readonly dims: readonly number[],
  ) {}

  get name(): string {
    return this.values.name;
  }
}
