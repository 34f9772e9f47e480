/**
 * One measured Lathe run, in a fresh process: `load-save <in> <out> [external]` loads and saves
 * a model; `baseline` only imports @lathe/core. Prints one JSON line: wall seconds around
 * load + save, and the process's peak RSS.
 */
import { readFileSync } from "node:fs";
import { loadModel, saveModel } from "@lathe/core";

const [command, input, output, layout] = process.argv.slice(2);
let seconds = 0;
if (command === "load-save" && input && output) {
  const start = performance.now();
  const model = await loadModel(input);
  await saveModel(model, output, { externalData: layout === "external" });
  seconds = (performance.now() - start) / 1000;
} else if (command !== "baseline") {
  console.error("usage: lathe-child (baseline | load-save <input.onnx> <output.onnx> [external])");
  process.exit(2);
}
console.log(JSON.stringify({ seconds, maxRssBytes: peakRssBytes() }));

/**
 * VmHWM: the peak RSS of this process's own address space. Not getrusage's maxRSS, which on
 * Linux carries the parent's RSS at fork across exec (a 500 MB parent makes every child "500 MB").
 */
function peakRssBytes(): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
  if (!match) throw new Error("no VmHWM line in /proc/self/status (the benchmark needs Linux)");
  return Number(match[1]) * 1024;
}
