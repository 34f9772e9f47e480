import {
  type DataRecord,
  DataType,
  type Dim,
  type Model,
  type PassRandom,
  Tensor,
  type Value,
} from "@lathe/core";
import { constantTensor } from "../common-int8/weights.js";

/**
 * Generated calibration inputs, for recipes that name no calibration data. A stand-in for the
 * runtime's input generator: random normals for float inputs, valid token ids (the vocabulary is
 * read from the embedding the ids index), all-ones masks, 0… positions, diffusion timesteps in
 * [0, 1000). Symbolic dims take `shapes[input]`, else 1 for batch-like names and `length`.
 */
export function generateCalibrationRecords(
  model: Model,
  count: number,
  random: PassRandom,
  shapes: Readonly<Record<string, readonly number[]>>,
  length = 16,
): DataRecord[] {
  const inputs = model.graph.inputs.filter((v) => !model.graph.initializers.has(v.name));
  return Array.from({ length: count }, () => {
    const record: Record<string, Tensor> = {};
    for (const input of inputs) record[input.name] = generate(input, random, shapes, length);
    return record;
  });
}

function generate(
  input: Value,
  random: PassRandom,
  shapes: Readonly<Record<string, readonly number[]>>,
  length: number,
): Tensor {
  const type = input.type?.kind === "tensor" ? input.type : undefined;
  const elemType = type?.elemType ?? DataType.FLOAT;
  const dims =
    shapes[input.name] ??
    (type?.shape?.dims ?? [1]).map((d: Dim) =>
      typeof d === "number" ? d : /batch|step/i.test(String(d)) ? 1 : length,
    );
  const count = dims.reduce((a, b) => a * b, 1);
  const name = input.name.toLowerCase();
  if (elemType === DataType.INT64 || elemType === DataType.INT32) {
    const last = dims.at(-1) ?? 1;
    const vocab = vocabularyOf(input);
    const values = Array.from({ length: count }, (_, i) => {
      if (name.includes("mask")) return 1;
      if (name.includes("position")) return i % last;
      return vocab ? Math.floor(random.uniform() * vocab) : 0;
    });
    return elemType === DataType.INT64
      ? Tensor.fromArray(DataType.INT64, dims, values.map(BigInt))
      : Tensor.fromArray(DataType.INT32, dims, values);
  }
  if (elemType !== DataType.FLOAT)
    return Tensor.fromArray(elemType, dims, new Array(count).fill(0));
  const values = new Float32Array(count);
  const timestep = name.includes("timestep");
  for (let i = 0; i < count; i++) values[i] = timestep ? random.uniform() * 1000 : random.normal();
  return Tensor.fromArray(DataType.FLOAT, dims, values);
}

/** Rows of the embedding table that `ids` index, when a Gather reads it (directly or reshaped). */
function vocabularyOf(ids: Value): number | undefined {
  const seen = new Set<Value>();
  const queue = [ids];
  while (queue.length > 0) {
    const value = queue.shift()!;
    if (seen.has(value)) continue;
    seen.add(value);
    for (const { node, index } of value.uses()) {
      if (node.opType === "Gather" && index === 1) {
        const table = constantTensor(node.inputs[0]);
        if (table) return table.dims[0];
      }
      if (["Reshape", "Cast", "Unsqueeze", "Squeeze", "Flatten"].includes(node.opType))
        queue.push(node.output);
    }
  }
  return undefined;
}
