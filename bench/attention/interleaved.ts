/**
 * Both contenders of one case in one process, runs alternating (the order swapped every pair, so
 * neither always runs second), after two warm-ups each: the median of the per-pair ratios
 * fused/unfused with its 95 % interval (paired.ts). On this shared VM one decode step's time
 * moves by ±50 % from run to run; the pairs see the same load, so their ratio does not. No memory
 * numbers (child.ts has those). Session options as child.ts reads them (BENCH_THREADS,
 * BENCH_MEM_PATTERN). With --json the last line is the result as JSON (run.ts reads it).
 *
 *   node_modules/.bin/tsx --tsconfig bench/attention/tsconfig.json \
 *     bench/attention/interleaved.ts gpt2-decode [pairs, default 200] [--json]
 */
import { encodeModel, singleModelBundle } from "@lathe/core";
import { rewriteAttention } from "@lathe/plugin-flash-attention";
import * as ort from "onnxruntime-node";
import { CASES, sessionOptions } from "./cases.js";
import { formatPaired, median, pairedRatio } from "./paired.js";

const args = process.argv.slice(2).filter((a) => a !== "--json");
const json = process.argv.includes("--json");
const caseName = args[0] ?? "gpt2-decode";
const bench = CASES[caseName];
if (!bench) throw new Error(`unknown case ${caseName}; cases: ${Object.keys(CASES).join(", ")}`);
const pairs = Number(args[1] ?? 200);

const variants = ["unfused", "fused"] as const;
const sessions = {} as Record<(typeof variants)[number], ort.InferenceSession>;
for (const variant of variants) {
  const model = bench.model();
  if (variant === "fused")
    rewriteAttention(singleModelBundle(model), {
      target: "cpu",
      prefer: "contrib",
      include: [],
      exclude: [],
      explain: false,
    });
  sessions[variant] = await ort.InferenceSession.create(encodeModel(model), sessionOptions(bench));
}
const feeds = bench.feeds();
// outputs into buffers allocated once, as child.ts does
const fetches = {} as Record<(typeof variants)[number], Record<string, ort.Tensor>>;
for (const variant of variants) {
  const warm = await sessions[variant].run(feeds);
  fetches[variant] = {};
  for (const [name, tensor] of Object.entries(warm))
    if (tensor.type === "float32")
      fetches[variant][name] = new ort.Tensor(
        "float32",
        new Float32Array(tensor.size),
        tensor.dims,
      );
  await sessions[variant].run(feeds, fetches[variant]);
}
const times = { unfused: [] as number[], fused: [] as number[] };
for (let i = 0; i < pairs; i++)
  for (const variant of i % 2 ? [...variants].reverse() : variants) {
    const t0 = performance.now();
    await sessions[variant].run(feeds, fetches[variant]);
    times[variant].push(performance.now() - t0);
  }
const ratio = pairedRatio(times.fused, times.unfused);
console.log(
  `${caseName}: ${pairs} pairs alternating in one process; medians unfused ${median(times.unfused).toFixed(1)} ms, fused ${median(times.fused).toFixed(1)} ms; fused/unfused per pair: median ${formatPaired(ratio)}`,
);
if (json)
  console.log(
    JSON.stringify({
      ratio,
      unfusedMs: median(times.unfused),
      fusedMs: median(times.fused),
    }),
  );
