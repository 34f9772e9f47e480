/**
 * The inputs a metric runs a component on: records from a named data set, or inputs generated
 * from the component's signature (symbolic dims bound by the recipe's `target.shapes`, seeded by
 * the recipe's seed), so the reference and every candidate see exactly the same ones.
 */
import { checkRecordFits } from "../data/fit.js";
import { DataType } from "../ir/dtype.js";
import type { DataRecord, DataSet } from "../plugin/types.js";
import type { TargetSpec } from "../recipe/types.js";
import { generateInputs, type ValueSignature, vocabularyOf } from "../runtime/index.js";

export interface InputPlan {
  readonly target: Pick<TargetSpec, "shapes">;
  readonly seed: number;
  /** Records to use (the first `samples` of the data set, or that many generated ones). */
  readonly samples: number;
  readonly data?: DataSet;
}

export async function evaluationInputs(
  inputs: readonly ValueSignature[],
  outputs: readonly ValueSignature[],
  plan: InputPlan,
): Promise<DataRecord[]> {
  const names = new Set(inputs.map((i) => i.name));
  if (plan.data) {
    const records: DataRecord[] = [];
    for await (const record of plan.data.records()) {
      if (records.length === 0) checkRecordFits(record, inputs, plan.data.name);
      // A data set may carry more arrays than this component reads (labels, other components').
      records.push(Object.fromEntries(Object.entries(record).filter(([name]) => names.has(name))));
      if (records.length >= plan.samples) break;
    }
    return records;
  }
  const vocabSize = vocabularyOf(outputs);
  return Array.from({ length: plan.samples }, (_, i) =>
    generateInputs(inputs, {
      // The shapes also bind the symbolic dims they cover, for the inputs that share them.
      shapes: plan.target.shapes,
      seed: plan.seed + i,
      ...(vocabSize === undefined ? {} : { vocabSize }),
    }),
  );
}

/** Token ids per record: the elements of integer inputs named like `input_ids`. */
export function tokenCount(record: DataRecord): number {
  let tokens = 0;
  for (const [name, tensor] of Object.entries(record)) {
    const integer = tensor.dataType === DataType.INT64 || tensor.dataType === DataType.INT32;
    if (integer && /input_ids$/.test(name)) tokens += tensor.elementCount;
  }
  return tokens;
}

/** Items per run: the first dim of the first input (the batch), 1 for scalars. */
export function batchSize(record: DataRecord): number {
  const first = Object.values(record)[0];
  return first && first.dims.length > 0 ? first.dims[0]! : 1;
}
