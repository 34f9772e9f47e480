/**
 * One contender of one case in a fresh process: builds the model (rewritten when `fused`; for
 * `no-attention`, rewritten and then every fused attention op deleted, its output replaced by its
 * query input — what the model costs when attention costs nothing, the bound no attention rewrite
 * can beat), opens an ONNX Runtime CPU session, runs it once, resets the peak-RSS counter (after a
 * garbage collection), then a second warm-up and the timed runs.
 * Prints one JSON line: { ms: number[], peakRssMb, fusedOps }.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { encodeModel, type Model, singleModelBundle } from "@lathe/core";
import { rewriteAttention } from "@lathe/plugin-flash-attention";
import * as ort from "onnxruntime-node";
import { CASES, sessionOptions } from "./cases.js";

const [caseName, variant, repeatsText] = process.argv.slice(2);
const bench = CASES[caseName ?? ""];
if (!bench || !["fused", "unfused", "no-attention"].includes(variant ?? ""))
  throw new Error(`usage: child.ts <case> fused|unfused|no-attention [repeats]`);
const repeats = Number(repeatsText ?? 3);

let model = bench.model();
let fusedOps = 0;
if (variant !== "unfused") {
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
  if (variant === "no-attention") deleteAttention(model);
}

/** Deletes every fused attention op; its output becomes its query input (same shape). */
function deleteAttention(m: Model): void {
  const fused = new Set(["GroupQueryAttention", "MultiHeadAttention", "Attention"]);
  for (const node of [...m.graph]) {
    if (!fused.has(node.opType)) continue;
    const [output, ...rest] = node.outputs;
    if (rest.some((o) => o.uses().length > 0 || m.graph.outputs.includes(o)))
      throw new Error(`${node.name}: its cache outputs are read; no bound for this case`);
    output?.replaceAllUsesWith(node.inputs[0]!, m.graph);
    m.graph.remove(node, { force: true });
  }
}
let bytes: Uint8Array | undefined = encodeModel(model);
model = undefined as never;
const session = await ort.InferenceSession.create(bytes, sessionOptions(bench));
bytes = undefined;
const feeds = bench.feeds();

const peakRss = () =>
  Number(/VmHWM:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? 0) / 1024;
const rss = () =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? 0) / 1024;
let warm: Record<string, ort.Tensor> | undefined = await session.run(feeds);
// Outputs go into buffers allocated once, as a serving loop does: otherwise every run page-faults
// a fresh logits buffer (262 MB at 2048 × 32000), which on this VM costs seconds and depends on
// what the arena happens to hold, not on attention.
const fetches: Record<string, ort.Tensor> = {};
for (const [name, tensor] of Object.entries(warm)) {
  if (tensor.type !== "float32") continue;
  fetches[name] = new ort.Tensor("float32", new Float32Array(tensor.size).fill(0), tensor.dims);
}
// The peak covers the runs of a serving loop: what the session holds after its first run (ORT's
// arena keeps its buffers) and what the runs add, not the JavaScript garbage of building the
// model or the first run's output copy (the logits: 1.6 GB at 8192 × 50257). run.ts starts this
// child with --expose-gc; 5 resets VmHWM to the current RSS.
warm = undefined;
(globalThis as { gc?: () => void }).gc?.();
writeFileSync("/proc/self/clear_refs", "5");
const before = rss();
// a second warm-up writes into those buffers, so the timed runs all take the same path
await session.run(feeds, fetches);
const ms: number[] = [];
for (let i = 0; i < repeats; i++) {
  const start = performance.now();
  await session.run(feeds, fetches);
  ms.push(performance.now() - start);
}
console.log(JSON.stringify({ ms, peakRssMb: peakRss(), rssBeforeMb: before, fusedOps }));
