/**
 * The engine's own cost: bytes written and wall time of `runPipeline` on a four-step linear
 * recipe over zoo gpt2 at GPT-2-small size (attention rewrite, then 4-bit weights for the
 * attention and MLP projections, then dynamic int8 for what is left), with `core/size` as the
 * only metric so the passes and the engine, not measurements, dominate. Two runs in one process:
 * cold (empty cache, every step runs) and warm (every step a cache hit, outputs written again).
 *
 * Bytes written are `wchar` of /proc/self/io (what this process passed to write(), ONNX
 * Runtime included); "on disk" counts the output and cache folders' files once per inode, so a
 * hard-linked candidate is not counted twice.
 *
 *   pnpm bench:pipeline               # BENCH_GPT2 (default small; tiny for a quick look)
 *
 * With BENCH_JSON=1 it prints one JSON line instead of the table (compare.ts reads it).
 */
import { readFileSync } from "node:fs";
import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  builtinDataPlugin,
  builtinMetricsPlugin,
  loadPlugins,
  planRecipe,
  readRecipe,
  runPipeline,
  validateRecipe,
} from "@lathe/core";
import flashAttentionPlugin from "@lathe/plugin-flash-attention";
import quantizePlugin from "@lathe/plugin-quantize";
import zooPlugin from "@lathe/plugin-zoo";

const SIZE = process.env.BENCH_GPT2 ?? "small";

const RECIPE = `
model: zoo:gpt2?size=${SIZE}
target:
  providers: [cpu]
  threads: 0
  shapes: { input_ids: [1, 16], attention_mask: [1, 16], position_ids: [1, 16] }
passes:
  attention:
    use: flash-attention/rewrite
  int4-attn:
    use: quantize/weight-only
    options: { bits: 4, blockSize: 32, algorithm: rtn, include: ["attn"] }
  int4-mlp:
    use: quantize/weight-only
    options: { bits: 4, blockSize: 32, algorithm: rtn, include: ["mlp"] }
  int8-rest:
    use: quantize/dynamic-int8
evaluate:
  metrics:
    core/size: {}
select:
  objective: size.bytes
output:
  dir: ./out
`;

function bytesWritten(): number {
  const io = readFileSync("/proc/self/io", "utf8");
  return Number(/^wchar:\s*(\d+)/m.exec(io)![1]);
}

/** Allocated bytes of every file under the folders, each inode once. */
async function onDisk(folders: readonly string[]): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) {
        const s = await stat(path);
        const id = `${s.dev}:${s.ino}`;
        if (seen.has(id)) continue;
        seen.add(id);
        total += s.blocks * 512;
      }
    }
  };
  for (const folder of folders) await walk(folder);
  return total;
}

const dir = await mkdtemp(join(tmpdir(), "lathe-bench-pipeline-"));
try {
  const file = join(dir, "recipe.yaml");
  await writeFile(file, RECIPE);
  const doc = await readRecipe(file);
  const registry = await loadPlugins(doc.plugins, dirname(doc.file), {
    builtins: [
      builtinDataPlugin,
      builtinMetricsPlugin,
      zooPlugin,
      quantizePlugin,
      flashAttentionPlugin,
    ],
    where: doc.file,
  });
  const graph = planRecipe(validateRecipe(doc, registry), registry);
  const rows: string[][] = [];
  const measured: Record<string, { seconds: number; writtenMB: number; diskMB: number }> = {};
  for (const label of ["cold", "warm"]) {
    const written = bytesWritten();
    const started = performance.now();
    const result = await runPipeline(graph);
    const seconds = (performance.now() - started) / 1000;
    const mb = (bytesWritten() - written) / 1e6;
    const disk = (await onDisk([join(dir, "out"), join(dir, ".lathe")])) / 1e6;
    const statuses = result.report.steps
      .map((s) => `${s.id} ${s.status}${s.modified ? " (modified)" : ""}`)
      .join(", ");
    measured[label] = { seconds, writtenMB: mb, diskMB: disk };
    rows.push([
      label,
      `${seconds.toFixed(1)} s`,
      `${mb.toFixed(1)} MB`,
      `${disk.toFixed(1)} MB`,
      statuses,
    ]);
  }
  if (process.env.BENCH_JSON === "1") {
    console.log(JSON.stringify(measured));
  } else {
    console.log(`zoo gpt2 size=${SIZE}, four linear steps, core/size`);
    console.log(["run", "wall", "written", "on disk after", "steps"].join(" | "));
    for (const row of rows) console.log(row.join(" | "));
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
