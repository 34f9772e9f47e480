/**
 * Decode-step latency of several saved models, in a fresh process that holds nothing else: the
 * process that ran the passes carries gptq's multi-gigabyte heap, whose garbage collection
 * competes with ORT's threads on a 2-core machine. Opens one CPU session per model, warms each up,
 * then times single-token steps (past PAST) in rotating order. Prints one JSON line:
 * { medians: { name: ms }, samples: { name: ms[] } }.
 *
 *   decode-child.ts <repeats> <threads> <name>=<model.onnx> ...
 */
import * as ort from "onnxruntime-node";
import { feedsFor, PAST } from "./gpt2-feeds.js";

const [repeatsText, threadsText, ...pairs] = process.argv.slice(2);
const repeats = Number(repeatsText);
const threads = Number(threadsText);
if (!(repeats > 0) || !(threads >= 0) || pairs.length === 0)
  throw new Error("usage: decode-child.ts <repeats> <threads> <name>=<model.onnx> ...");

const options: ort.InferenceSession.SessionOptions =
  threads > 0 ? { intraOpNumThreads: threads } : {};
const sessions: Record<string, ort.InferenceSession> = {};
for (const pair of pairs) {
  const [name, path] = pair.split("=") as [string, string];
  sessions[name] = await ort.InferenceSession.create(path, options);
}
const names = Object.keys(sessions);
const decode = feedsFor([[464]], PAST);
for (const name of names) for (let i = 0; i < 3; i++) await sessions[name]?.run(decode);
const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
for (let r = 0; r < repeats; r++)
  for (let j = 0; j < names.length; j++) {
    const name = names[(r + j) % names.length] as string;
    const start = performance.now();
    await sessions[name]?.run(decode);
    samples[name]?.push(performance.now() - start);
  }
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const medians = Object.fromEntries(names.map((n) => [n, median(samples[n] ?? [])]));
console.log(JSON.stringify({ medians, samples }));
