import type { DataRecord, Dim, Model, PassRandom, Tensor, Value } from "@lathe/core";
import { fedInputs, generateCalibrationTensor } from "../common/calibration-inputs.js";

/**
 * Generated calibration inputs, for recipes that name no calibration data (values as
 * `generateCalibrationTensor` makes them). Symbolic dims take `shapes[input]`, else 1 for
 * batch-like names and `length`.
 */
export function generateCalibrationRecords(
  model: Model,
  count: number,
  random: PassRandom,
  shapes: Readonly<Record<string, readonly number[]>>,
  length = 16,
): DataRecord[] {
  const inputs = fedInputs(model);
  return Array.from({ length: count }, () => {
    const record: Record<string, Tensor> = {};
    for (const input of inputs)
      record[input.name] = generateCalibrationTensor(input, dimsOf(input, shapes, length), random);
    return record;
  });
}

function dimsOf(
  input: Value,
  shapes: Readonly<Record<string, readonly number[]>>,
  length: number,
): readonly number[] {
  const given = shapes[input.name];
  if (given) return given;
  const dims = input.type?.kind === "tensor" ? input.type.shape?.dims : undefined;
  return (dims ?? [1]).map((d: Dim) =>
    typeof d === "number" ? d : /batch|step/i.test(String(d)) ? 1 : length,
  );
}
