/**
 * What the pruning benchmarks share: calibration and evaluation token records, a pass on a fresh
 * copy with its time and peak RSS, ORT sessions at the benchmark's thread count, decode-step
 * feeds, interleaved median latencies.
 */
import { readFileSync, writeFileSync } from "node:fs";
import {
  createPassRandom,
  type DataRecord,
  decodeModel,
  encodeModel,
  generateInputs,
  type Model,
  type PassDefinition,
  runPassStandalone,
  singleModelBundle,
  type TensorType,
} from "@lathe/core";
import * as ort from "onnxruntime-node";
import { generateTokenRecords } from "../../packages/plugins/quantize/src/weight-only/calibration.js";

export const log = (m: string) => process.stderr.write(`${m}\n`);

/** Calibration and evaluation token sequences, one per record, from two fixed seeds. */
export function tokenRecordSets(
  model: Model,
  counts: { calibration: number; evaluation: number },
  sequence: number,
): { calibration: DataRecord[]; evaluation: DataRecord[] } {
  const draw = (count: number, seed: number, stream: string) =>
    generateTokenRecords(model, count, sequence, createPassRandom(seed, stream, ""), 1);
  return {
    calibration: draw(counts.calibration, 1, "calibration"),
    evaluation: draw(counts.evaluation, 2, "evaluation"),
  };
}

export function peakMb(): number {
  const status = readFileSync("/proc/self/status", "utf8");
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** One pass on a fresh copy of `bytes`: the model, its time and the process's peak RSS. */
export async function runPass(
  bytes: Uint8Array,
  // biome-ignore lint/suspicious/noExplicitAny: passes with their own option types
  pass: PassDefinition<any>,
  options: Record<string, unknown>,
  calibration: DataRecord[],
): Promise<{
  bytes: Uint8Array;
  seconds: number;
  peakMb: number;
  statistics: Record<string, unknown>;
}> {
  const bundle = singleModelBundle(decodeModel(bytes));
  global.gc?.();
  writeFileSync("/proc/self/clear_refs", "5"); // resets VmHWM to the current RSS
  const start = performance.now();
  const { result } = await runPassStandalone(pass, bundle, {
    options,
    data: { calibration },
    logger: { debug() {}, info() {}, warn: log },
    verify: "none",
  } as Parameters<typeof runPassStandalone>[2]);
  const seconds = (performance.now() - start) / 1000;
  const peak = peakMb();
  return {
    bytes: encodeModel(result.bundle.components.get("model") as Model),
    seconds,
    peakMb: peak,
    statistics: result.statistics ?? {},
  };
}

/** An ORT CPU session as the benchmarks time it: `threads` intra-op threads, every optimization. */
export async function session(bytes: Uint8Array, threads: number): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
    logSeverityLevel: 3,
  });
}

export function toOrt(record: DataRecord): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(record))
    feeds[name] = new ort.Tensor(t.dataType === 7 ? "int64" : "float32", t.toArray() as never, [
      ...t.dims,
    ]);
  return feeds;
}

/** Decode-step feeds for a KV-cache export: one token after `PAST` cached ones. */
export function decodeFeeds(model: Model, past: number): Record<string, ort.Tensor> {
  const signature = model.graph.inputs.map((v) => {
    const type = v.type as TensorType;
    return {
      name: v.name,
      dataType: type.elemType,
      dims: (type.shape?.dims ?? []).map((d) => (d === null ? "unknown" : d)),
    };
  });
  const record = generateInputs(signature, {
    dims: { batch_size: 1, sequence_length: 1 },
    past,
    seed: 3,
    vocabSize: 1000,
  });
  return toOrt(record);
}

/** Median latency of each session, the sessions interleaved within every round. */
export async function interleaved(
  runs: readonly { session: ort.InferenceSession; feeds: Record<string, ort.Tensor> }[],
  repeats: number,
): Promise<number[]> {
  for (const r of runs) await r.session.run(r.feeds); // warm-up
  const times = runs.map(() => [] as number[]);
  for (let i = 0; i < repeats; i++)
    for (const [k, r] of runs.entries()) {
      const start = performance.now();
      await r.session.run(r.feeds);
      times[k]?.push(performance.now() - start);
    }
  return times.map((t) => t.sort((a, b) => a - b)[Math.floor(t.length / 2)] as number);
}
