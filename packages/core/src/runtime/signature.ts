import type { DataType } from "../ir/dtype.js";

/** A model input or output as the runtime sees it. */
export interface ValueSignature {
  readonly name: string;
  readonly dataType: DataType;
  /** Sizes, or the name of a symbolic dim (`batch_size`, `past_sequence_length + 1`). */
  readonly dims: readonly (number | string)[];
}
