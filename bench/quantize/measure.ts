/** What the quantization benchmarks share: sessions, interleaved latencies, timed passes. */
import { readFileSync } from "node:fs";
import {
  type DataRecord,
  type Model,
  type ModelBundle,
  type PassDefinition,
  type PassResult,
  runPassStandalone,
} from "@lathe/core";
import * as ort from "onnxruntime-node";

export const REPEATS = Number(process.env.BENCH_REPEATS ?? 10);
export const THREADS = Number(process.env.BENCH_THREADS ?? 0);

export type Feeds = Record<string, ort.Tensor>;

export function preset<C>(
  model: { name: string; presets: Readonly<Record<string, C>> },
  name: string,
): C {
  const config = model.presets[name];
  if (!config) throw new Error(`zoo ${model.name} has no preset "${name}"`);
  return config;
}

/** The process's peak RSS (VmHWM) in MB; writing 5 to /proc/self/clear_refs resets it. */
export function peakRssMb(): number {
  const status = readFileSync("/proc/self/status", "utf8");
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

/** Runs a pass as the engine would; its wall time and the process's peak RSS after it. */
export async function timedPass<O>(
  pass: PassDefinition<O>,
  bundle: ModelBundle,
  options: Partial<O>,
  data: Record<string, DataRecord[]> = {},
): Promise<{ result: PassResult; seconds: number; peakMb: number; warnings: string[] }> {
  const start = performance.now();
  const { result, logs } = await runPassStandalone(pass, bundle, {
    options,
    data,
    // Times the pass alone: verifying (checker + an ORT session) is the tests' job.
    verify: "none",
  });
  const warnings = logs.filter((l) => l.level === "warn").map((l) => l.message);
  for (const warning of warnings) console.warn(`${pass.id}: ${warning}`);
  return { result, seconds: (performance.now() - start) / 1000, peakMb: peakRssMb(), warnings };
}

export function only(bundle: ModelBundle): Model {
  const [model] = bundle.components.values();
  if (!model) throw new Error("empty bundle");
  return model;
}

export async function createSession(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, {
    executionProviders: ["cpu"],
    ...(THREADS > 0 ? { intraOpNumThreads: THREADS } : {}),
  });
}

/** Median latencies (ms) of each session on the same feeds, runs interleaved round-robin. */
export async function latencies(sessions: ort.InferenceSession[], feeds: Feeds): Promise<number[]> {
  for (const s of sessions) for (let i = 0; i < 2; i++) await s.run(feeds);
  const times = sessions.map(() => [] as number[]);
  for (let r = 0; r < REPEATS; r++) {
    for (const [i, s] of sessions.entries()) {
      const start = performance.now();
      await s.run(feeds);
      times[i]!.push(performance.now() - start);
    }
  }
  return times.map((t) => t.sort((a, b) => a - b)[Math.floor(t.length / 2)]!);
}

/** A GPT-2 prompt of `length` tokens (batch 1, no past): ids spread over the vocabulary. */
export function prefillFeeds(length: number, vocab: number): Feeds {
  const ids = Array.from({ length }, (_, i) => (i * 7919) % vocab);
  return {
    input_ids: new ort.Tensor("int64", BigInt64Array.from(ids, BigInt), [1, length]),
    attention_mask: new ort.Tensor("int64", new BigInt64Array(length).fill(1n), [1, length]),
    position_ids: new ort.Tensor("int64", BigInt64Array.from(ids.keys(), BigInt), [1, length]),
  };
}

export async function output(session: ort.InferenceSession, feeds: Feeds, name: string) {
  return (await session.run(feeds))[name]!.data as Float32Array;
}

export function relativeL2(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / den);
}
