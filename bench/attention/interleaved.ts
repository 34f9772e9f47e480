/**
 * Both contenders of one case in one process, runs alternating (BENCH_REPEATS timed each after a
 * warm-up, default 15): on a busy machine this shows whether a small difference is real. No
 * memory numbers. Session options as child.ts reads them (BENCH_THREADS, BENCH_MEM_PATTERN).
 *
 *   node_modules/.bin/tsx --tsconfig bench/attention/tsconfig.json bench/attention/interleaved.ts gpt2-decode
 */
import { encodeModel, singleModelBundle } from "@lathe/core";
import { rewriteAttention } from "@lathe/plugin-flash-attention";
import * as ort from "onnxruntime-node";
import { CASES, sessionOptions } from "./cases.js";

const bench = CASES[process.argv[2] ?? "gpt2-decode"]!;
const sessions: Record<string, ort.InferenceSession> = {};
for (const variant of ["unfused", "fused"]) {
  const model = bench.model();
  if (variant === "fused")
    rewriteAttention(singleModelBundle(model), {
      target: "cpu",
      prefer: "contrib",
      include: [],
      exclude: [],
      explain: false,
    });
  sessions[variant] = await ort.InferenceSession.create(encodeModel(model), sessionOptions());
}
const feeds = bench.feeds();
const times: Record<string, number[]> = { unfused: [], fused: [] };
const repeats = Number(process.env.BENCH_REPEATS ?? 15);
for (let i = 0; i <= repeats; i++)
  for (const variant of ["unfused", "fused"]) {
    const t0 = performance.now();
    await sessions[variant]!.run(feeds);
    if (i > 0) times[variant]!.push(performance.now() - t0);
  }
for (const [k, v] of Object.entries(times))
  console.log(
    k,
    "ms:",
    v.map((x) => x.toFixed(0)).join(" "),
    "median",
    [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!.toFixed(0),
  );
