import { DataType, type Model, type PassRandom, Tensor, type Value } from "@lathe/core";
import { constantTensor } from "./weights.js";

/** Diffusion schedules count timesteps in [0, 1000). */
const TIMESTEPS = 1000;

/** The graph inputs a calibration record feeds (initializers listed as inputs are not fed). */
export function fedInputs(model: Model): Value[] {
  return model.graph.inputs.filter((v) => !model.graph.initializers.has(v.name));
}

/**
 * A generated calibration input of `dims`, for recipes that name no calibration data: valid
 * token ids (uniform over the rows of the embedding the ids index, 0 when none is found),
 * all-ones masks, positions 0… along the last axis, diffusion timesteps uniform in [0, 1000),
 * other floats normal, other types zero. (Core's `generateInputs` draws from its own seeded
 * streams, with a fixed vocabulary and whole-number timesteps; calibration draws from the pass's
 * random so a recipe's seed decides it.)
 */
export function generateCalibrationTensor(
  input: Value,
  dims: readonly number[],
  random: PassRandom,
): Tensor {
  const elemType = input.type?.kind === "tensor" ? input.type.elemType : DataType.FLOAT;
  const count = dims.reduce((a, b) => a * b, 1);
  const name = input.name.toLowerCase();
  if (elemType === DataType.INT64 || elemType === DataType.INT32) {
    const last = dims.at(-1) ?? 1;
    const vocab = embeddingVocabularyOf(input);
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
  for (let i = 0; i < count; i++)
    values[i] = timestep ? random.uniform() * TIMESTEPS : random.normal();
  return Tensor.fromArray(DataType.FLOAT, dims, values);
}

/**
 * Rows of the embedding table that `ids` index, when a Gather reads a constant one (directly or
 * through reshapes and casts). Core's `embeddingVocabularyOf` reads the logits of a session's outputs;
 * calibration runs on the graph, where the embedding also covers models without logits.
 */
export function embeddingVocabularyOf(ids: Value): number | undefined {
  const seen = new Set<Value>();
  const queue = [ids];
  while (queue.length > 0) {
    const value = queue.shift() as Value;
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
