import { encodeModel, type Model } from "@lathe/core";
import * as ort from "onnxruntime-node";

export type Feeds = Record<string, ort.Tensor>;

/** An ONNX Runtime CPU session over the model's encoded bytes. */
export function createSession(model: Model): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(encodeModel(model));
}

/** A rectangular int64 tensor from rows of numbers ([batch, length]). */
export function int64(rows: readonly (readonly number[])[]): ort.Tensor {
  return new ort.Tensor("int64", BigInt64Array.from(rows.flat(), BigInt), [
    rows.length,
    rows[0]?.length ?? 0,
  ]);
}

export function float32(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor("float32", data, dims);
}

/** A named output of a run, which must exist and hold float32 values. */
export function floatOutput(outputs: ort.InferenceSession.ReturnType, name: string): Float32Array {
  const tensor = outputs[name];
  if (!tensor) throw new Error(`the run has no output "${name}"`);
  if (!(tensor.data instanceof Float32Array)) throw new Error(`output "${name}" is not float32`);
  return tensor.data;
}
