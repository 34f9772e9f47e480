/**
 * fp16 benchmark on ONNX Runtime's CPU provider, zoo gpt2 at GPT-2-small size: the pass's time
 * and peak RSS on the 500 MB model, the size ratio, prefill 1×128 latency against fp32 (runs
 * interleaved) and the logits' relative L2. No floors: fp16 is for GPU targets, and on a CPU
 * ORT runs most fp16 ops through fp32 (the pass warns), which the latency row shows.
 *
 *   pnpm bench:quantize:fp16          # BENCH_REPEATS (default 10), BENCH_THREADS (default 0)
 */
import { readFileSync, writeFileSync } from "node:fs";
import { encodeModel } from "@lathe/core";
import { gpt2 } from "@lathe/plugin-zoo";
import * as ort from "onnxruntime-node";
import { fp16Pass } from "../../packages/plugins/quantize/src/fp16/fp16.js";
import {
  createSession,
  latencies,
  only,
  output,
  prefillFeeds,
  preset,
  REPEATS,
  relativeL2,
  THREADS,
  timedPass,
} from "./measure.js";

const small = preset(gpt2, "small");
const build = () => gpt2.build(small, { seed: 1 });
const fp32Bytes = encodeModel(only(build()));
const bundle = build();
const rssBefore =
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? 0) / 1024;
writeFileSync("/proc/self/clear_refs", "5"); // VmHWM from here: the pass, not the build
const pass = await timedPass(fp16Pass, bundle, {});
const fp16Bytes = encodeModel(only(pass.result.bundle));

const feeds = prefillFeeds(128, small.vocab);
const sessions = [await createSession(fp32Bytes), await createSession(fp16Bytes)];
const [fp32Ms, fp16Ms] = await latencies(sessions, feeds);
const reference = await output(sessions[0]!, feeds, "logits");
const half = await output(sessions[1]!, feeds, "logits");
for (const s of sessions) await s.release();

console.log(
  `\nfp16 benchmark (ORT ${ort.env.versions.common} CPU, threads ${THREADS || "ORT default"}, ${REPEATS} repeats, medians)\n`,
);
console.log("| measurement | value |\n|---|---|");
const rows: [string, string][] = [
  [
    "gpt2 small fp32 prefill 1×128",
    `${fp32Ms!.toFixed(1)} ms, ${(fp32Bytes.length / 1e6).toFixed(1)} MB`,
  ],
  ["fp16 prefill latency ratio (CPU)", (fp16Ms! / fp32Ms!).toFixed(3)],
  ["fp16 size ratio", (fp16Bytes.length / fp32Bytes.length).toFixed(3)],
  ["fp16 logits relative L2", relativeL2(half, reference).toExponential(2)],
  [
    "fp16 pass time / peak RSS (RSS before)",
    `${pass.seconds.toFixed(1)} s / ${pass.peakMb.toFixed(0)} MB (${rssBefore.toFixed(0)} MB)`,
  ],
  ["fp16 pass statistics", JSON.stringify(pass.result.statistics)],
];
for (const [what, value] of rows) console.log(`| ${what} | ${value} |`);
