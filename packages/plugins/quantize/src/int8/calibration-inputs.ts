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
  const sizes = symbolSizes(inputs, length);
  return Array.from({ length: count }, () => {
    const record: Record<string, Tensor> = {};
    for (const input of inputs)
      record[input.name] = generateCalibrationTensor(input, dimsOf(input, shapes, sizes), random);
    return record;
  });
}

function symbolsOf(input: Value): readonly Dim[] {
  return (input.type?.kind === "tensor" ? input.type.shape?.dims : undefined) ?? [1];
}

/**
 * A size per symbolic dim: 1 for batch-like names, `length` for the others, except a total
 * length (an attention mask over cache and new tokens) that must be past + current, as in a
 * KV-cache decoder's `attention_mask: [batch, total]` beside `past_key_values: [.., past, ..]`.
 */
function symbolSizes(inputs: readonly Value[], length: number): Map<string, number> {
  const names = new Set(inputs.flatMap((i) => symbolsOf(i).filter((d) => typeof d !== "number")));
  const sizes = new Map<string, number>();
  for (const name of [...names].map(String)) sizes.set(name, /batch|step/i.test(name) ? 1 : length);
  const past = [...sizes.keys()].find((k) => /past/i.test(k) && !/total/i.test(k));
  const current = [...sizes.keys()].find((k) => /seq/i.test(k) && !/past|total/i.test(k));
  if (past && current)
    for (const name of sizes.keys())
      if (/total/i.test(name)) sizes.set(name, sizes.get(past)! + sizes.get(current)!);
  return sizes;
}

function dimsOf(
  input: Value,
  shapes: Readonly<Record<string, readonly number[]>>,
  sizes: ReadonlyMap<string, number>,
): readonly number[] {
  const given = shapes[input.name];
  if (given) return given;
  return symbolsOf(input).map((d: Dim) => (typeof d === "number" ? d : sizes.get(String(d))!));
}
