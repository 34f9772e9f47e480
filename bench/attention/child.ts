/**
 * One contender of one case in a fresh process: builds the model (rewritten when `fused`),
 * opens an ONNX Runtime CPU session, resets the peak-RSS counter, then times the runs. Prints
 * one JSON line: { ms: number[], peakRssMb, fusedOps }.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { encodeModel, singleModelBundle } from "@lathe/core";
import { rewriteAttention } from "@lathe/plugin-flash-attention";
import * as ort from "onnxruntime-node";
import { CASES } from "./cases.js";

const [caseName, variant, repeatsText] = process.argv.slice(2);
const bench = CASES[caseName ?? ""];
if (!bench || (variant !== "fused" && variant !== "unfused"))
  throw new Error(`usage: child.ts <case> fused|unfused [repeats]`);
const repeats = Number(repeatsText ?? 3);

let model = bench.model();
let fusedOps = 0;
if (variant === "fused") {
  const report = [
    ...rewriteAttention(singleModelBundle(model), {
      target: "cpu",
      prefer: "contrib",
      include: [],
      exclude: [],
      explain: false,
    }).values(),
  ][0]!;
  fusedOps = Object.values(report.fused).reduce((a, b) => a + b, 0);
}
let bytes: Uint8Array | undefined = encodeModel(model);
model = undefined as never;
// ORT's memory-pattern planner allocates each run's intermediates as one block; on this VM the
// page faults of that fresh block (the 262 MB logits of a 2048-token LM head) cost seconds and
// depend on the rest of the graph, so both contenders run without it unless BENCH_MEM_PATTERN=1.
const enableMemPattern = process.env.BENCH_MEM_PATTERN === "1";
// BENCH_THREADS=1 makes a shared machine's numbers steadier (0: ORT's default, all cores)
const intraOpNumThreads = Number(process.env.BENCH_THREADS ?? 0);
const session = await ort.InferenceSession.create(bytes, { enableMemPattern, intraOpNumThreads });
bytes = undefined;
const feeds = bench.feeds();

const peakRss = () =>
  Number(/VmHWM:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? 0) / 1024;
// 5 resets VmHWM: the peak then covers the runs only, not building the model
writeFileSync("/proc/self/clear_refs", "5");
const before =
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? 0) / 1024;
const warm = await session.run(feeds);
// Outputs go into buffers allocated once, as a serving loop does: otherwise every run page-faults
// a fresh logits buffer (262 MB at 2048 × 32000), which on this VM costs seconds and depends on
// what the arena happens to hold, not on attention.
const fetches: Record<string, ort.Tensor> = {};
for (const [name, tensor] of Object.entries(warm)) {
  if (tensor.type !== "float32") continue;
  fetches[name] = new ort.Tensor("float32", new Float32Array(tensor.size).fill(0), tensor.dims);
}
const ms: number[] = [];
for (let i = 0; i < repeats; i++) {
  const start = performance.now();
  await session.run(feeds, fetches);
  ms.push(performance.now() - start);
}
console.log(JSON.stringify({ ms, peakRssMb: peakRss(), rssBeforeMb: before, fusedOps }));
