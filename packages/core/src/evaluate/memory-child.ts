/**
 * The program the memory metric runs in a child Node process (`node --input-type=module -e`):
 * it imports onnxruntime-node, notes its peak RSS (the baseline: Node + ORT, no model), loads the
 * model, runs it on the feeds the parent wrote, and prints both peaks as JSON. Plain JavaScript,
 * since the child runs no TypeScript loader.
 */
export const MEMORY_CHILD_SOURCE = `
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
const [ortPath, modelPath, feedsPath, optionsJson] = process.argv.slice(1);
const options = JSON.parse(optionsJson);
const imported = await import(pathToFileURL(ortPath).href);
const ort = imported.default ?? imported;
const kib = () => process.resourceUsage().maxRSS;
const baseline = kib();
const header = JSON.parse(readFileSync(feedsPath + ".json", "utf8"));
const blob = readFileSync(feedsPath);
const arrays = {
  float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array,
  int16: Int16Array, uint16: Uint16Array, float16: Uint16Array, int32: Int32Array,
  uint32: Uint32Array, int64: BigInt64Array, uint64: BigUint64Array, bool: Uint8Array,
};
const feeds = {};
for (const f of header) {
  const bytes = blob.buffer.slice(blob.byteOffset + f.offset, blob.byteOffset + f.offset + f.length);
  feeds[f.name] = new ort.Tensor(f.type, new arrays[f.type](bytes), f.dims);
}
const session = await ort.InferenceSession.create(modelPath, {
  executionProviders: options.providers,
  ...(options.threads > 0 ? { intraOpNumThreads: options.threads } : {}),
});
const loaded = kib();
for (let i = 0; i < options.runs; i++) await session.run(feeds);
process.stdout.write(JSON.stringify({ baseline, loaded, peak: kib() }));
`;
