import { join } from "node:path";
import {
  createCpuSessions,
  type DataRecord,
  DataType,
  loadModel,
  type Model,
  type ModelBundle,
  type OrtFeeds,
  type PassDefinition,
  type PassResult,
  type Provider,
  runPassStandalone,
  SeededRandom,
  Tensor,
} from "@lathe/core";
import { int64Rows, opCounts, openOrtSession, runFloat, withTempDir } from "@lathe/core/testing";
import { unet } from "@lathe/plugin-zoo";

export interface TestRun {
  result: PassResult;
  warnings: string[];
  infos: string[];
}

/**
 * Runs a pass as the engine would (core's runPassStandalone), with one-thread CPU sessions and
 * named in-memory data sets, for a recipe whose target lists `providers`.
 */
export async function runPass<O>(
  pass: PassDefinition<O>,
  bundle: ModelBundle,
  overrides: Partial<O> = {},
  data: Record<string, DataRecord[]> = {},
  providers: Provider[] = ["cpu"],
): Promise<TestRun> {
  const { result, logs } = await runPassStandalone(pass, bundle, {
    options: overrides,
    data,
    providers,
    sessions: createCpuSessions({ threads: 1 }),
  });
  const said = (level: string) => logs.filter((l) => l.level === level).map((l) => l.message);
  return { result, warnings: said("warn"), infos: said("info") };
}

export function component(bundle: ModelBundle, name = "model"): Model {
  const model = bundle.components.get(name);
  if (!model) throw new Error(`bundle has no component ${name}`);
  return model;
}

/** Fraction of rows (length `width`) whose argmax agrees. */
export function top1Agreement(a: ArrayLike<number>, b: ArrayLike<number>, width: number): number {
  const rows = b.length / width;
  let same = 0;
  for (let r = 0; r < rows; r++) {
    let ia = 0;
    let ib = 0;
    for (let i = 1; i < width; i++) {
      if ((a[r * width + i] ?? 0) > (a[r * width + ia] ?? 0)) ia = i;
      if ((b[r * width + i] ?? 0) > (b[r * width + ib] ?? 0)) ib = i;
    }
    if (ia === ib) same++;
  }
  return same / rows;
}

/** Token ids, all-ones mask and positions for a causal LM. */
export function lmFeeds(ids: number[][]): OrtFeeds {
  const positions = ids.map((row) => row.map((_, i) => i));
  return {
    input_ids: int64Rows(ids),
    attention_mask: int64Rows(ids.map((row) => row.map(() => 1))),
    position_ids: int64Rows(positions),
  };
}

/** Deterministic pseudo-random token rows (core's SeededRandom). */
export function tokenRows(batch: number, length: number, vocab: number, seed = 1): number[][] {
  const random = new SeededRandom(seed);
  return Array.from({ length: batch }, () => Array.from({ length }, () => random.int(vocab)));
}

/** The ops ORT runs after its level-2 (extended) fusions, read from the model it saves. */
export function optimizedOps(model: Model): Promise<Record<string, number>> {
  return withTempDir(async (dir) => {
    const path = join(dir, "optimized.onnx");
    const session = await openOrtSession(model, {
      graphOptimizationLevel: "extended",
      optimizedModelFilePath: path,
    });
    await session.release();
    return opCounts(await loadModel(path));
  }, "lathe-quantize-");
}

/** Tiny UNet inputs as a diffusion pipeline feeds them: latents, a timestep, text states. */
export function unetRecord(seed: number, size = 8, sequence = 7): DataRecord {
  const rng = new SeededRandom(seed);
  const context = unet.presets.tiny.contextDim;
  return {
    sample: Tensor.fromArray(DataType.FLOAT, [1, 4, size, size], rng.normals(4 * size * size)),
    timestep: Tensor.fromArray(DataType.FLOAT, [1], [999 - ((seed * 97) % 1000)]),
    encoder_hidden_states: Tensor.fromArray(
      DataType.FLOAT,
      [1, sequence, context],
      rng.normals(sequence * context),
    ),
  };
}

/** Tiny UNet (seed 5), as the static-int8 tests quantize it. */
export const buildTinyUnet = (): ModelBundle => unet.build(unet.presets.tiny, { seed: 5 });

/** Six calibration records for tiny UNet, distinct from the held-out one. */
export const unetCalibration = (): DataRecord[] =>
  Array.from({ length: 6 }, (_, i) => unetRecord(100 + i));

/** `out_sample` of a tiny UNet on the held-out record the static-int8 tests measure on. */
export function runUnetHeldOut(model: Model): Promise<Float32Array> {
  return runFloat(model, unetRecord(7), "out_sample");
}
