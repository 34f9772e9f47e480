/**
 * The engine before and after a change, side by side: runs run.ts alternately in this checkout
 * and in a baseline checkout (another commit, same dependencies), N times each, and prints the
 * medians and the after/before ratios.
 *
 *   BENCH_BASELINE=<checkout> pnpm bench:pipeline:compare    # BENCH_REPEATS (default 3), BENCH_GPT2
 *
 * A baseline checkout: `git worktree add --detach <dir> <commit>`, each node_modules folder of
 * this checkout symlinked into the same place there, and bench/pipeline/ copied in.
 */
import { execFileSync } from "node:child_process";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

interface Run {
  seconds: number;
  writtenMB: number;
  diskMB: number;
}
type Measured = Record<"cold" | "warm", Run>;

const here = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const baseline = process.env.BENCH_BASELINE;
if (!baseline) throw new Error("set BENCH_BASELINE to a checkout of the commit to compare with");
const repeats = Number(process.env.BENCH_REPEATS ?? 3);

function measure(checkout: string): Measured {
  const out = execFileSync(
    "npx",
    [
      "tsx",
      "--tsconfig",
      join(checkout, "bench/pipeline/tsconfig.json"),
      join(checkout, "bench/pipeline/run.ts"),
    ],
    { cwd: checkout, env: { ...process.env, BENCH_JSON: "1" }, encoding: "utf8" },
  );
  return JSON.parse(out.trim().split("\n").pop()!) as Measured;
}

const runs: Record<"before" | "after", Measured[]> = { before: [], after: [] };
for (let i = 0; i < repeats; i++) {
  // Alternate who goes first, so page cache and disk write-back favour neither.
  const order = i % 2 === 0 ? (["before", "after"] as const) : (["after", "before"] as const);
  for (const which of order) runs[which].push(measure(which === "before" ? baseline : here));
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};
console.log(`zoo gpt2 size=${process.env.BENCH_GPT2 ?? "small"}, medians of ${repeats} runs each`);
console.log("run | value | before | after | after/before");
for (const run of ["cold", "warm"] as const) {
  for (const [label, key, unit] of [
    ["wall", "seconds", "s"],
    ["written", "writtenMB", "MB"],
    ["on disk", "diskMB", "MB"],
  ] as const) {
    const b = median(runs.before.map((m) => m[run][key]));
    const a = median(runs.after.map((m) => m[run][key]));
    const ratio = b === 0 ? "-" : (a / b).toFixed(2);
    console.log(`${run} | ${label} | ${b.toFixed(1)} ${unit} | ${a.toFixed(1)} ${unit} | ${ratio}`);
  }
}
