/**
 * Fused against unfused attention, side by side in one run, CPU: each case runs both contenders
 * in fresh child processes (alternating, so neither gets a quieter machine), then prints median
 * latency, the fused/unfused ratio, peak RSS during the runs, and PASS/FAIL against the floors.
 * For prefill cases it also times the model with its attention deleted (child.ts, no-attention):
 * its ratio to unfused is the lowest any attention rewrite could reach, so a floor below it
 * cannot be met on this machine whatever the kernel.
 *
 * Floors (issue 14): one causal op at 2048 fused ≤ 0.65 × unfused (ops.ts, run first: its
 * GroupQueryAttention ratio is the one-op gain); gpt2/llama prefill: the whole-model gain at least
 * 90 % of what the one-op gain predicts from attention's share (1 − attention-deleted/unfused);
 * gpt2 at 8192 tokens ≤ 0.7 × and peak RSS ≤ 0.5 × unfused; decode not slower: the median of
 * per-pair ratios from alternating runs in one process (interleaved.ts) at most 1.
 *
 *   pnpm bench:attention                         # every case, 3 timed runs each
 *   BENCH_REPEATS=1 BENCH_CASES=unet-self-attention pnpm bench:attention
 */
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CASES } from "./cases.js";
import { formatPaired, type PairedRatio } from "./paired.js";

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const repeats = Number(process.env.BENCH_REPEATS ?? 3);
const names = process.env.BENCH_CASES?.split(",") ?? Object.keys(CASES);

interface Sample {
  ms: number[];
  peakRssMb: number;
  rssBeforeMb: number;
  fusedOps: number;
}

/** A child the kernel killed (out of memory): the largest RSS seen while it ran, a lower bound. */
interface Killed {
  killed: string;
  rssSeenMb: number;
}

/**
 * child.ts in a fresh process. Its RSS is sampled from /proc every 200 ms, so a child killed by
 * the OOM killer still tells how much it held (at least) when it died.
 */
async function runChild(
  name: string,
  variant: "fused" | "unfused" | "no-attention",
): Promise<Sample | Killed> {
  const child = spawn(
    process.execPath,
    [
      "--expose-gc",
      "--import",
      "tsx",
      here("./child.ts"),
      name,
      variant,
      String(repeats * CASES[name]!.repeatScale),
    ],
    {
      env: { ...process.env, TSX_TSCONFIG_PATH: here("./tsconfig.json") },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let out = "";
  child.stdout.on("data", (chunk) => {
    out += chunk;
  });
  let rssSeenMb = 0;
  const poll = setInterval(() => {
    try {
      const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
      rssSeenMb = Math.max(rssSeenMb, Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
    } catch {
      // the child has exited between two samples
    }
  }, 200);
  const [code, signal] = (await once(child, "close")) as [number | null, string | null];
  clearInterval(poll);
  if (signal) return { killed: signal, rssSeenMb };
  if (code !== 0) throw new Error(`child.ts ${name} ${variant} exited with ${code}`);
  return JSON.parse(out.trim().split("\n").at(-1)!) as Sample;
}

const isKilled = (x: Sample | Killed): x is Killed => "killed" in x;

/**
 * ops.ts at 2048 tokens in a child: GroupQueryAttention's time over the unfused op's, the median
 * of the per-round ratios (every form runs once a round, order rotating).
 */
function oneOpRatio(): number {
  const out = execFileSync(
    process.execPath,
    ["--import", "tsx", here("./ops.ts"), "2048", String(Math.max(21, 7 * repeats))],
    {
      env: { ...process.env, TSX_TSCONFIG_PATH: here("./tsconfig.json") },
      encoding: "utf8",
    },
  );
  console.error(out.trim());
  const row = /\| GroupQueryAttention \| [\d.]+ \| [\d.]+ \| ([\d.]+) \(/.exec(out);
  if (!row) throw new Error("ops.ts printed no GroupQueryAttention row");
  return Number(row[1]);
}

/** interleaved.ts in a child: the median of `pairs` paired ratios fused/unfused, with its CI. */
function pairedLatency(name: string, pairs: number): PairedRatio {
  const out = execFileSync(
    process.execPath,
    ["--import", "tsx", here("./interleaved.ts"), name, String(pairs), "--json"],
    {
      env: { ...process.env, TSX_TSCONFIG_PATH: here("./tsconfig.json") },
      encoding: "utf8",
    },
  );
  const lines = out.trim().split("\n");
  console.error(lines.slice(0, -1).join("\n"));
  return (JSON.parse(lines.at(-1)!) as { ratio: PairedRatio }).ratio;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows: string[] = [];
let failed = false;
const needsOneOp = names.some((n) => CASES[n]?.floor === "predicted");
const opRatio = needsOneOp ? oneOpRatio() : undefined;
if (opRatio !== undefined) {
  const ok = opRatio <= 0.65;
  failed ||= !ok;
  console.log(
    `one causal attention op, 2048 tokens, 12 × 64: fused/unfused **${opRatio.toFixed(2)}** ≤ 0.65 ${ok ? "PASS" : "FAIL"}\n`,
  );
}
for (const name of names) {
  const bench = CASES[name];
  if (!bench) throw new Error(`unknown case ${name}; cases: ${Object.keys(CASES).join(", ")}`);
  const unfused = await runChild(name, "unfused");
  const fused = await runChild(name, "fused");
  const bound = bench.bound ? await runChild(name, "no-attention") : undefined;
  if (isKilled(unfused) || isKilled(fused) || (bound && isKilled(bound))) {
    // a contender that cannot run here: its RSS when killed is a lower bound of its peak, so
    // the memory floor still holds when the other's peak is below the fraction of that bound
    const state = (x: Sample | Killed | undefined) =>
      !x
        ? "–"
        : isKilled(x)
          ? `killed (${x.killed}, out of memory) at ≥ ${x.rssSeenMb.toFixed(0)} MB`
          : `${median(x.ms).toFixed(1)} ms, peak ${x.peakRssMb.toFixed(0)} MB`;
    let memory = "not measured";
    if (isKilled(unfused) && !isKilled(fused) && bench.memoryRatio !== undefined) {
      const ok = fused.peakRssMb <= bench.memoryRatio * unfused.rssSeenMb;
      failed ||= !ok;
      memory = `${fused.peakRssMb.toFixed(0)} / ≥ ${unfused.rssSeenMb.toFixed(0)}: < ${(fused.peakRssMb / unfused.rssSeenMb).toFixed(2)} ≤ ${bench.memoryRatio} ${ok ? "PASS" : "FAIL"}`;
    }
    failed = true;
    rows.push(
      `| ${bench.title} | – | ${state(unfused)} | ${state(fused)} | not measured: FAIL | ${memory} | ${state(bound)} |`,
    );
    console.error(`${name}: unfused ${state(unfused)}; fused ${state(fused)}`);
    continue;
  }
  const ratio = median(fused.ms) / median(unfused.ms);
  let latency: string;
  let latencyOk: boolean;
  if (bench.floor === "predicted") {
    // attention's share of the unfused run, from the attention-deleted bound; the one-op gain
    // applied to that share is what a rewrite without leftover overhead would save
    const share = 1 - median(bound!.ms) / median(unfused.ms);
    const predicted = share * (1 - opRatio!);
    const gain = 1 - ratio;
    latencyOk = gain >= 0.9 * predicted;
    latency = `**${ratio.toFixed(2)}**: gain ${gain.toFixed(2)} vs predicted ${predicted.toFixed(2)} (share ${share.toFixed(2)} × ${(1 - opRatio!).toFixed(2)}), ≥ 90 % ${latencyOk ? "PASS" : "FAIL"}`;
  } else if (bench.pairs) {
    // short steps: the floor is read from alternating runs in one process, not the two children
    const paired = pairedLatency(name, bench.pairs * repeats);
    latencyOk = paired.median <= bench.floor;
    latency = `**${paired.median.toFixed(2)}** ≤ ${bench.floor} ${latencyOk ? "PASS" : "FAIL"} (paired: ${formatPaired(paired)}; the two children's medians: ${ratio.toFixed(2)})`;
  } else {
    latencyOk = ratio <= bench.floor;
    latency = `**${ratio.toFixed(2)}** ≤ ${bench.floor} ${latencyOk ? "PASS" : "FAIL"}`;
  }
  const memoryOk =
    bench.memoryRatio === undefined || fused.peakRssMb <= bench.memoryRatio * unfused.peakRssMb;
  failed ||= !latencyOk || !memoryOk;
  const row = [
    bench.title,
    `${fused.fusedOps}`,
    `${median(unfused.ms).toFixed(1)}`,
    `${median(fused.ms).toFixed(1)}`,
    latency,
    `${unfused.peakRssMb.toFixed(0)} → ${fused.peakRssMb.toFixed(0)}${bench.memoryRatio === undefined ? "" : ` (${(fused.peakRssMb / unfused.peakRssMb).toFixed(2)} ≤ ${bench.memoryRatio} ${memoryOk ? "PASS" : "FAIL"})`}`,
    bound
      ? `${median(bound.ms).toFixed(1)} (${(median(bound.ms) / median(unfused.ms)).toFixed(2)})`
      : "–",
  ];
  rows.push(`| ${row.join(" | ")} |`);
  console.error(
    `${name}: unfused ${unfused.ms.map((x) => x.toFixed(0)).join(", ")} ms; fused ${fused.ms.map((x) => x.toFixed(0)).join(", ")} ms${bound ? `; no attention ${bound.ms.map((x) => x.toFixed(0)).join(", ")} ms` : ""}`,
  );
}
console.log(
  `repeats: ${repeats} timed runs after 2 warm-ups (unet block ×5, decode ×20; decode's floor from ${repeats} × 100 alternating pairs), medians; ORT memory pattern ${process.env.BENCH_MEM_PATTERN === "0" ? "off" : `on${names.some((n) => CASES[n]?.memPattern === false) ? " (off for the long case)" : ""}`}; CPU arena ${process.env.BENCH_ARENA === "0" ? "off" : "on"}; intra-op threads ${process.env.BENCH_THREADS ?? "default"}\n`,
);
console.log(
  "| case | fused blocks | unfused ms | fused ms | fused/unfused | peak RSS during runs, MB (unfused → fused) | attention deleted ms (/unfused: the bound) |",
);
console.log("|---|---|---|---|---|---|---|");
for (const row of rows) console.log(row);
process.exitCode = failed ? 1 : 0;
