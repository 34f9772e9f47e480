import { createBuilder, DataType, type Model, SeededRandom, Tensor } from "@lathe/core";
import { gpt2, llama } from "@lathe/plugin-zoo";
import * as ort from "onnxruntime-node";

/** One benchmark case: the model and the inputs of one timed run. */
export interface BenchCase {
  readonly title: string;
  /**
   * The latency floor: fused/unfused at most this number, or `predicted`: the whole-model gain
   * (1 − fused/unfused) is at least 90 % of what the one-op gain predicts from attention's share
   * (issue 14: no leftover overhead around the fused op).
   */
  readonly floor: number | "predicted";
  /**
   * false: both contenders run with ORT's memory pattern off. With it on, the second run
   * allocates the pattern's block while the arena still holds the first run's buffers: at 8192
   * tokens the unfused model then needs more than this VM's 23 GB (OOM-killed at 24.3 GB).
   */
  readonly memPattern?: false;
  /** Peak RSS during the runs: fused at most this fraction of unfused (1: not more). */
  readonly memoryRatio?: number;
  /** Also time the model with attention deleted: the bound no attention rewrite can beat. */
  readonly bound: boolean;
  /** Timed runs per BENCH_REPEATS: short runs need many to get past this VM's noise. */
  readonly repeatScale: number;
  /**
   * The latency floor is read from this many alternating pairs per BENCH_REPEATS in one process
   * (interleaved.ts: the median of the per-pair ratios), for steps too short to compare across
   * two processes on a shared VM.
   */
  readonly pairs?: number;
  model(): Model;
  feeds(): Record<string, ort.Tensor>;
}

/**
 * The session options of every contender: ONNX Runtime's defaults, as Lathe opens sessions
 * (memory pattern on, CPU arena on, ORT's thread count), unless BENCH_MEM_PATTERN=0,
 * BENCH_ARENA=0 or BENCH_THREADS=n, or the case turns the memory pattern off for both.
 */
export function sessionOptions(bench?: BenchCase): ort.InferenceSession.SessionOptions {
  const threads = Number(process.env.BENCH_THREADS ?? 0);
  return {
    enableMemPattern: process.env.BENCH_MEM_PATTERN !== "0" && bench?.memPattern !== false,
    enableCpuMemArena: process.env.BENCH_ARENA !== "0",
    ...(threads > 0 ? { intraOpNumThreads: threads } : {}),
  };
}

function preset<C>(presets: Record<string, C | undefined>, name: string): C {
  const config = presets[name];
  if (!config) throw new Error(`no preset ${name}`);
  return config;
}

const GPT2_SMALL_2K = { ...preset(gpt2.presets, "small"), positions: 2048 };
const GPT2_SMALL_8K = { ...preset(gpt2.presets, "small"), positions: 8192 };
const LLAMA_SMALL = preset(llama.presets, "small");
const SEQ = 2048;

function component(bundle: { components: ReadonlyMap<string, Model> }): Model {
  const model = bundle.components.values().next().value;
  if (!model) throw new Error("empty bundle");
  return model;
}

function int64(rows: number[][]): ort.Tensor {
  return new ort.Tensor("int64", BigInt64Array.from(rows.flat(), BigInt), [
    rows.length,
    rows[0]!.length,
  ]);
}

function noise(dims: number[], seed: number): ort.Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  return new ort.Tensor("float32", new SeededRandom(seed).uniforms(n, -0.25, 0.25), dims);
}

function prefill(length: number, vocab: number): Record<string, ort.Tensor> {
  const ids = [Array.from({ length }, (_, i) => (i * 7919) % vocab)];
  return {
    input_ids: int64(ids),
    attention_mask: int64([Array(length).fill(1)]),
    position_ids: int64([Array.from({ length }, (_, i) => i)]),
  };
}

/**
 * diffusers' self-attention as the zoo's UNet exports it (torch-2 SDPA: √(1/√d) on Q and on Kᵀ,
 * computed from Shape(q)), at SD 1.5's first level: 320 channels, 8 heads of 40, 4096 tokens.
 */
function unetSelfAttention(): Model {
  const [tokens, channels, heads] = [4096, 320, 8];
  const b = createBuilder({ opset: 14 });
  const x = b.input("hidden_states", DataType.FLOAT, [1, tokens, channels]);
  const weight = (seed: number) =>
    b.initializer(
      Tensor.fromArray(
        DataType.FLOAT,
        [channels, channels],
        noise([channels, channels], seed).data as Float32Array,
      ),
    );
  const split = b.int64s([0, -1, heads, channels / heads]);
  const q = b.Transpose(b.Reshape(b.MatMul(x, weight(1)), split), { perm: [0, 2, 1, 3] });
  const kView = b.Reshape(b.MatMul(x, weight(2)), split);
  const v = b.Transpose(b.Reshape(b.MatMul(x, weight(3)), split), { perm: [0, 2, 1, 3] });
  const last = b.Slice(
    b.Shape(q),
    b.int64s([-1]),
    b.constant([9223372036854775807n], [1], DataType.INT64),
  );
  const scale = b.Div(b.constant([1], [1]), b.Sqrt(b.Cast(last, { to: DataType.FLOAT })));
  const scores = b.MatMul(
    b.Mul(q, b.Sqrt(scale)),
    b.Mul(b.Transpose(kView, { perm: [0, 2, 3, 1] }), b.Sqrt(scale)),
  );
  const context = b.MatMul(b.Softmax(scores, { axis: -1 }), v);
  const merged = b.Reshape(
    b.Transpose(context, { perm: [0, 2, 1, 3] }),
    b.int64s([0, -1, channels]),
  );
  b.output(b.MatMul(merged, weight(4)), "out", DataType.FLOAT);
  return b.build();
}

export const CASES: Record<string, BenchCase> = {
  "gpt2-prefill": {
    title: "gpt2 (GPT-2-small shapes) prefill, seq 2048",
    floor: "predicted",
    memoryRatio: 1,
    bound: true,
    repeatScale: 1,
    model: () => component(gpt2.build(GPT2_SMALL_2K, { seed: 1 })),
    feeds: () => prefill(SEQ, GPT2_SMALL_2K.vocab),
  },
  "llama-prefill": {
    title: "llama small prefill, seq 2048",
    floor: "predicted",
    bound: true,
    repeatScale: 1,
    model: () => component(llama.build(LLAMA_SMALL, { seed: 1 })),
    feeds: () => prefill(SEQ, LLAMA_SMALL.vocab),
  },
  "gpt2-long-prefill": {
    title: "gpt2 (GPT-2-small shapes, positions 8192) prefill, seq 8192",
    floor: 0.7,
    memoryRatio: 0.5,
    memPattern: false,
    bound: false,
    repeatScale: 1,
    model: () => component(gpt2.build(GPT2_SMALL_8K, { seed: 1 })),
    feeds: () => prefill(8192, GPT2_SMALL_8K.vocab),
  },
  "unet-self-attention": {
    title: "unet self-attention block, 4096 tokens",
    floor: 0.85,
    bound: true,
    repeatScale: 5,
    model: unetSelfAttention,
    feeds: () => ({ hidden_states: noise([1, 4096, 320], 7) }),
  },
  "gpt2-decode": {
    title: "gpt2 (GPT-2-small shapes) decode, past 1024",
    floor: 1.0,
    bound: false,
    repeatScale: 20,
    pairs: 100,
    model: () => component(gpt2.build({ ...GPT2_SMALL_2K, kvCache: true }, { seed: 1 })),
    feeds: () => {
      const past = 1024;
      const { layers, heads, hidden } = GPT2_SMALL_2K;
      const feeds: Record<string, ort.Tensor> = {
        input_ids: int64([[42]]),
        attention_mask: int64([Array(past + 1).fill(1)]),
        position_ids: int64([[past]]),
      };
      for (let i = 0; i < layers; i++) {
        feeds[`past_key_values.${i}.key`] = noise([1, heads, past, hidden / heads], 10 + i);
        feeds[`past_key_values.${i}.value`] = noise([1, heads, past, hidden / heads], 50 + i);
      }
      return feeds;
    },
  },
};
