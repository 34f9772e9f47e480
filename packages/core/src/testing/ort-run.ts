import * as ort from "onnxruntime-node";
import { float16BitsToFloat32 } from "../ir/dtype.js";
import { Model } from "../ir/model.js";
import { Tensor } from "../ir/tensor.js";
import { encodeModel } from "../onnx/model-file.js";
import { toOrtTensor } from "../runtime/ort.js";

/** A model as a test holds one: an IR Model, its encoded bytes, or a file path (external data beside it). */
export type TestModel = Model | Uint8Array | string;

/** Values and dims; the element type follows the typed array (Float32Array: float32, BigInt64Array: int64, …). */
export interface ArrayFeed {
  readonly data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array;
  readonly dims: readonly number[];
}

/** An input: an ORT tensor as given, an IR Tensor (converted, its bytes copied), or an array and dims. */
export type TestFeed = ort.Tensor | Tensor | ArrayFeed;
export type TestFeeds = Readonly<Record<string, TestFeed>>;

/** ONNX Runtime's own results: output name → ORT tensor (`data`, `dims`, `type`). */
export type OrtOutputs = ort.InferenceSession.ReturnType;

/**
 * An ONNX Runtime session on the CPU provider (ORT's default) with `options` as ORT takes them.
 * One intra-op thread unless `options` say otherwise: a test's models are small and test files
 * run side by side, so a thread pool per session costs more than it saves. The caller releases
 * the session; `withOrtSession` and `runOnOrt` do that themselves.
 */
export function openOrtSession(
  model: TestModel,
  options: ort.InferenceSession.SessionOptions = {},
): Promise<ort.InferenceSession> {
  const source = model instanceof Model ? encodeModel(model) : model;
  const settings = { intraOpNumThreads: 1, ...options };
  // Two calls because `create`'s overloads take a path or bytes, not their union.
  return typeof source === "string"
    ? ort.InferenceSession.create(source, settings)
    : ort.InferenceSession.create(source, settings);
}

/** Opens a session, hands it to `use`, and releases it however `use` ends. */
export async function withOrtSession<T>(
  model: TestModel,
  use: (session: ort.InferenceSession) => Promise<T>,
  options: ort.InferenceSession.SessionOptions = {},
): Promise<T> {
  const session = await openOrtSession(model, options);
  try {
    return await use(session);
  } finally {
    await session.release();
  }
}

/** Feeds as ORT takes them: ORT tensors as they are, the others converted. */
export function ortFeeds(feeds: TestFeeds): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const [name, feed] of Object.entries(feeds)) out[name] = ortTensorOf(name, feed);
  return out;
}

function ortTensorOf(name: string, feed: TestFeed): ort.Tensor {
  if (feed instanceof ort.Tensor) return feed;
  if (feed instanceof Tensor) return toOrtTensor(ort, name, feed);
  return new ort.Tensor(feed.data, [...feed.dims]);
}

/** Runs a model once on ORT's CPU provider and returns every output; the session is released. */
export function runOnOrt(
  model: TestModel,
  feeds: TestFeeds,
  options: ort.InferenceSession.SessionOptions = {},
): Promise<OrtOutputs> {
  return withOrtSession(model, (session) => session.run(ortFeeds(feeds)), options);
}

/** Runs a model once and returns every output's float32 values by name (an error when one is not float32). */
export async function runFloats(
  model: TestModel,
  feeds: TestFeeds,
  options: ort.InferenceSession.SessionOptions = {},
): Promise<Record<string, Float32Array>> {
  return floatOutputs(await runOnOrt(model, feeds, options));
}

/** Runs a model once and returns one output's float32 values (an error when it is not float32). */
export async function runFloat(
  model: TestModel,
  feeds: TestFeeds,
  output: string,
  options: ort.InferenceSession.SessionOptions = {},
): Promise<Float32Array> {
  return floatOutput(await runOnOrt(model, feeds, options), output);
}

/** A named output of a run, which must exist and hold float32 values. */
export function floatOutput(outputs: OrtOutputs, name: string): Float32Array {
  const tensor = outputs[name];
  if (!tensor) throw new Error(`the run has no output "${name}"`);
  if (!(tensor.data instanceof Float32Array)) throw new Error(`output "${name}" is not float32`);
  return tensor.data;
}

/**
 * A float tensor's values as numbers: float32 and float64 as they are, float16 (which ORT hands
 * over as raw half bits) decoded to float32. An error for any other type.
 */
export function floatValues(tensor: ort.Tensor): Float32Array | Float64Array {
  if (tensor.type === "float32" || tensor.type === "float64")
    return tensor.data as Float32Array | Float64Array;
  if (tensor.type === "float16")
    return Float32Array.from(tensor.data as Uint16Array, float16BitsToFloat32);
  throw new Error(`a tensor of type ${tensor.type} has no float values`);
}

/** Every output of a run as float32 values by name (an error when one is not float32). */
export function floatOutputs(outputs: OrtOutputs): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const name of Object.keys(outputs)) out[name] = floatOutput(outputs, name);
  return out;
}

/**
 * The largest |a − b| over every float output of two runs of models with the same outputs,
 * optionally only where `keep(output, index, dims)` holds (rows a padding mask leaves
 * undefined). A NaN on either side makes it Infinity, so a tolerance check on it fails; an
 * output missing from `b` or with other dims is an error.
 */
export function maxOutputDiff(
  a: OrtOutputs,
  b: OrtOutputs,
  keep?: (output: string, index: number, dims: readonly number[]) => boolean,
): number {
  let worst = 0;
  for (const [name, tensor] of Object.entries(a)) {
    const other = b[name];
    if (!other) throw new Error(`output "${name}" is missing from the second run`);
    if (other.dims.join() !== tensor.dims.join())
      throw new Error(`output "${name}": dims [${other.dims}] vs [${tensor.dims}]`);
    const x = tensor.data as Float32Array;
    const y = other.data as Float32Array;
    for (let i = 0; i < x.length; i++) {
      if (keep && !keep(name, i, tensor.dims)) continue;
      const d = Math.abs(x[i]! - y[i]!);
      if (!(d <= worst)) worst = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
    }
  }
  return worst;
}
