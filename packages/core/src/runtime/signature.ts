import type { DataType } from "../ir/dtype.js";

/** A model input or output as the runtime sees it. */
export interface ValueSignature {
  readonly name: string;
  readonly dataType: DataType;
  /** Sizes, or the name of a symbolic dim (`batch_size`, `past_sequence_length + 1`). */
  readonly dims: readonly (number | string)[];
}

export function isLogitsName(name: string): boolean {
  return /(^|[._/])logits$/.test(name);
}

/** A language model's vocabulary: the static last dim of its `logits` output. */
export function vocabularyOf(outputs: readonly ValueSignature[]): number | undefined {
  const logits = outputs.find((o) => isLogitsName(o.name));
  const last = logits?.dims[logits.dims.length - 1];
  return typeof last === "number" && last > 1 ? last : undefined;
}
