import {
  type DataRecord,
  DataType,
  LatheError,
  type Model,
  type SessionFactory,
  Tensor,
} from "@lathe/core";
import type { TimePoint } from "./noise.js";
import type { Denoise } from "./solvers.js";
import type { DiffusionSpec, Prediction } from "./spec.js";

export interface DenoiserSettings {
  /** Samples per call (the batch of every state). */
  readonly batch: number;
  /** One sample's dims, without the batch: [d] or [C, H, W]. */
  readonly sampleShape: readonly number[];
  /** Batched conditioning inputs (everything but sample and timestep), `batch` rows each. */
  readonly conditioning?: DataRecord;
  /**
   * Classifier-free guidance: the model runs on [unconditional; conditional] halves of one
   * batch and returns out_u + scale·(out_c − out_u). `unconditional` holds the other half.
   */
  readonly guidance?: { readonly scale: number; readonly unconditional: DataRecord };
}

/** An open denoiser: D(x, point) on ONNX Runtime, and how many calls it took. */
export interface OpenDenoiser {
  readonly denoise: Denoise;
  readonly calls: () => number;
  release(): Promise<void>;
}

/**
 * Opens the denoiser component on one session (or the factory's per-call runs) and wraps it as
 * the x₀-prediction D the solvers step with, whatever the model predicts.
 */
export async function openDenoiser(
  sessions: SessionFactory,
  model: Model,
  spec: DiffusionSpec,
  settings: DenoiserSettings,
): Promise<OpenDenoiser> {
  const session = sessions.open ? await sessions.open(model) : undefined;
  const run = async (feeds: DataRecord): Promise<Tensor> => {
    const out = session
      ? await session.run(feeds, [spec.outputName])
      : (await sessions.run(model, [feeds], { outputs: [spec.outputName] }))[0];
    const tensor = out?.[spec.outputName];
    if (!tensor) throw denoiserError(`the denoiser returned no "${spec.outputName}"`);
    return tensor;
  };
  const timestep = model.graph.inputs.find((v) => v.name === spec.timestepInput);
  const timestepType = timestep?.type?.kind === "tensor" ? timestep.type.elemType : DataType.FLOAT;
  const timestepRank =
    timestep?.type?.kind === "tensor" ? (timestep.type.shape?.dims.length ?? 1) : 1;
  const { batch, sampleShape, guidance } = settings;
  const rows = guidance ? 2 * batch : batch;
  const conditioning = guidance
    ? concatRecords(guidance.unconditional, settings.conditioning ?? {})
    : (settings.conditioning ?? {});
  const size = batch * sampleShape.reduce((a, b) => a * b, 1);
  let calls = 0;

  const denoise: Denoise = async (x, point) => {
    if (x.length !== size) throw denoiserError(`a state of ${x.length} values, expected ${size}`);
    calls++;
    const sample = new Float32Array(rows === batch ? size : 2 * size);
    sample.set(x);
    if (rows !== batch) sample.set(x, size);
    const feeds: Record<string, Tensor> = {
      ...conditioning,
      [spec.sampleInput]: Tensor.fromArray(DataType.FLOAT, [rows, ...sampleShape], sample),
      [spec.timestepInput]: timestepTensor(timestepType, timestepRank, rows, point.t),
    };
    const out = (await run(feeds)).toArray() as Float32Array;
    const prediction = new Float64Array(size);
    if (guidance) {
      for (let i = 0; i < size; i++) {
        const u = out[i] ?? 0;
        prediction[i] = u + guidance.scale * ((out[size + i] ?? 0) - u);
      }
    } else {
      for (let i = 0; i < size; i++) prediction[i] = out[i] ?? 0;
    }
    return toDenoised(spec.prediction, x, prediction, point);
  };
  return { denoise, calls: () => calls, release: async () => session?.release() };
}

/** The x₀-prediction from what the model predicts, in place on `prediction`. */
export function toDenoised(
  prediction: Prediction,
  x: Float64Array,
  out: Float64Array,
  point: TimePoint,
): Float64Array {
  const { alpha, sigma } = point;
  for (let i = 0; i < out.length; i++) {
    const xi = x[i] ?? 0;
    const o = out[i] ?? 0;
    if (prediction === "epsilon") out[i] = (xi - sigma * o) / alpha;
    else if (prediction === "v_prediction") out[i] = alpha * xi - sigma * o;
    // "sample": the model predicts x₀ itself.
  }
  return out;
}

function timestepTensor(type: DataType, rank: number, rows: number, t: number): Tensor {
  const dims = rank === 0 ? [] : [rows];
  const count = rank === 0 ? 1 : rows;
  if (type === DataType.INT64)
    return Tensor.fromArray(type, dims, Array<bigint>(count).fill(BigInt(Math.round(t))));
  if (type === DataType.INT32 || type === DataType.FLOAT || type === DataType.DOUBLE) {
    return Tensor.fromArray(type, dims, Array<number>(count).fill(t));
  }
  if (type === DataType.FLOAT16) return Tensor.fromArray(type, dims, Array<number>(count).fill(t));
  throw denoiserError(
    `the timestep input has type ${DataType[type]}; float, double, int32 or int64 expected`,
  );
}

/** Rows of `a` then rows of `b`, input by input (the guidance batch). */
export function concatRecords(a: DataRecord, b: DataRecord): DataRecord {
  const out: Record<string, Tensor> = {};
  for (const [name, first] of Object.entries(a)) {
    const second = b[name];
    if (!second) throw denoiserError(`guidance: the conditional half has no "${name}"`);
    const values = first.toArray() as Float32Array;
    const more = second.toArray() as Float32Array;
    const joined = new Float32Array(values.length + more.length);
    joined.set(values);
    joined.set(more, values.length);
    const dims = [(first.dims[0] ?? 0) + (second.dims[0] ?? 0), ...first.dims.slice(1)];
    out[name] = Tensor.fromArray(first.dataType, dims, joined);
  }
  return out;
}

function denoiserError(what: string): LatheError {
  return new LatheError("DIFFUSION_DENOISER_FAILED", what, {
    where: "diffusion denoiser",
    hint: "check that the bundle's denoiser takes (sample, timestep[, conditioning]) and returns one prediction shaped like the sample",
  });
}
