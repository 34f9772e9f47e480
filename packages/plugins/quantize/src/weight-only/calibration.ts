import type { DataRecord, Dim, Model, PassRandom, Tensor, Value } from "@lathe/core";
import { fedInputs, generateCalibrationTensor } from "../common/calibration-inputs.js";

/**
 * Token inputs for calibration when the recipe names no data: `sequences` sequences of
 * `length` tokens, packed `perRecord` to a record (the batch dim), with values as
 * `generateCalibrationTensor` makes them (ids uniform over the vocabulary, masks all ones,
 * positions 0…). Symbolic dims are the batch for the first, 0 for caches (`past_*` inputs start
 * empty) and `length` for the others.
 */
export function generateTokenRecords(
  model: Model,
  sequences: number,
  length: number,
  random: PassRandom,
  perRecord = 8,
): DataRecord[] {
  const inputs = fedInputs(model);
  const records: DataRecord[] = [];
  for (let done = 0; done < sequences; done += perRecord) {
    const batch = Math.min(perRecord, sequences - done);
    const record: Record<string, Tensor> = {};
    for (const input of inputs)
      record[input.name] = generateCalibrationTensor(
        input,
        tokenDims(input, batch, length),
        random,
      );
    records.push(record);
  }
  return records;
}

function tokenDims(input: Value, batch: number, length: number): number[] {
  const dims = input.type?.kind === "tensor" ? input.type.shape?.dims : undefined;
  const past = /past/i.test(input.name);
  return (dims ?? [1, length]).map((d: Dim, i) =>
    typeof d === "number" ? d : i === 0 ? batch : past ? 0 : length,
  );
}
