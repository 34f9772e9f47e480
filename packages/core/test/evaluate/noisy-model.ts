import { DataType, type Model, SeededRandom, saveModel, Tensor } from "@lathe/core";
import { gpt2 } from "../../../plugins/zoo/src/index.js";

/** The zoo's tiny gpt2 `model` component. */
export function tinyGpt2(seed = 3): Model {
  return gpt2.build(gpt2.presets.tiny, { seed }).components.get("model")!;
}

/**
 * Adds deterministic noise of `scale` × the weight's RMS to one float initializer, as a
 * stand-in for a lossy pass (quantization): the model still works, its outputs move a little.
 */
export function addNoise(model: Model, initializer: string, scale: number, seed = 1): Model {
  const value = model.graph.initializers.get(initializer);
  const tensor = value?.constValue;
  if (!(tensor instanceof Tensor) || tensor.dataType !== DataType.FLOAT) {
    throw new Error(`no float initializer ${initializer}`);
  }
  const data = Float32Array.from(tensor.toArray() as Float32Array);
  const rms = Math.sqrt(data.reduce((s, x) => s + x * x, 0) / data.length);
  const noise = new SeededRandom(seed).uniforms(data.length, -scale * rms, scale * rms);
  for (let i = 0; i < data.length; i++) data[i]! += noise[i]!;
  value!.constValue = Tensor.fromArray(DataType.FLOAT, tensor.dims, data, { name: tensor.name });
  return model;
}

/** Saves a model as one .onnx file (weights ≥ 1 KiB as external data, to exercise that path). */
export async function saveOnnx(model: Model, path: string): Promise<string> {
  await saveModel(model, path, { externalData: { threshold: 1024 } });
  return path;
}
