/**
 * latent/token-merge on zoo unet small (141.7 M parameters) at a 64×64 latent (4096 tokens in
 * the first level's transformer blocks, width 256, 77 text tokens), CPU, batch 1. Side by side in
 * one process, runs interleaved (merged, original, merged, …):
 *
 * - transformer-block time: the first level's first BasicTransformerBlock cut out of the UNet
 *   (its input stream and the text in, its output out), original against merged;
 * - whole denoiser time: the UNet, original against merged (ratio 0.5 in the first level's
 *   five blocks, ToMe for SD's default);
 * - quality: PSNR of the merged UNet's noise prediction against the original's, per ratio.
 *
 * Floors (issue 19): ratio 0.5, transformer-block time ≤ 0.7×, whole denoiser ≤ 0.85×.
 *
 *   pnpm bench:latent:tome     # BENCH_REPEATS (default 3), BENCH_SIDE (default 64)
 */
import {
  DataType,
  decodeModel,
  encodeModel,
  type Model,
  type ModelBundle,
  openSession,
  removeDeadCode,
  runPassStandalone,
  SeededRandom,
  singleModelBundle,
  Tensor,
  tensorType,
  Value,
} from "@lathe/core";
import { tokenMerge } from "@lathe/plugin-latent";
import { unet } from "@lathe/plugin-zoo";

const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const SIDE = Number(process.env.BENCH_SIDE ?? 64);
const RATIOS = [0.3, 0.5, 0.7];
const BLOCK = "/down_blocks.0/attentions.0/transformer_blocks.0/";

function noise(length: number, seed: number): Float32Array {
  return new SeededRandom(seed).uniforms(length, -1, 1);
}

/** A fresh zoo unet small (same seed: the same weights); built anew instead of copied, for memory. */
const buildUnet = () =>
  unet.build(unet.presets.small as never, { seed: 0 }).components.get("unet") as Model;

/** The block whose nodes are named under BLOCK, with its input stream and the text as inputs. */
function cutBlock(block: Model): Model {
  const graph = block.graph;
  const nodes = graph.nodes().filter((n) => n.name.startsWith(BLOCK));
  const first = nodes[0];
  const last = nodes[nodes.length - 1];
  const stream = first?.inputs[0];
  if (!first || !last || !stream) throw new Error(`no nodes named ${BLOCK}*`);
  const input = new Value("hidden_states", tensorType(DataType.FLOAT, [1, "tokens", 256]));
  stream.replaceAllUsesWith(input, graph);
  const text = graph.inputs.find((v) => v.name === "encoder_hidden_states") as Value;
  graph.inputs.splice(0, graph.inputs.length, input, text);
  const output = last.outputs[0] as Value;
  output.name = "block_out";
  graph.outputs.splice(0, graph.outputs.length, output);
  removeDeadCode(graph);
  return block;
}

async function merged(bundle: ModelBundle, ratio: number): Promise<Model> {
  const run = await runPassStandalone(tokenMerge, bundle, { options: { ratio } });
  const stats = run.result.statistics ?? {};
  console.log(
    `ratio ${ratio}: ${stats.wrapped} regions wrapped in ${stats.blocks} of ${stats["self-attention blocks"]} blocks`,
  );
  return [...run.result.bundle.components.values()][0] as Model;
}

const copy = (model: Model) => decodeModel(encodeModel(model));
const block = cutBlock(buildUnet());
const text = Tensor.fromArray(DataType.FLOAT, [1, 77, 768], noise(77 * 768, 3));
const unetFeeds = {
  sample: Tensor.fromArray(DataType.FLOAT, [1, 4, SIDE, SIDE], noise(4 * SIDE * SIDE, 1)),
  timestep: Tensor.fromArray(DataType.FLOAT, [1], [500]),
  encoder_hidden_states: text,
};
const blockFeeds = {
  hidden_states: Tensor.fromArray(
    DataType.FLOAT,
    [1, SIDE * SIDE, 256],
    noise(SIDE * SIDE * 256, 2),
  ),
  encoder_hidden_states: text,
};

const contenders = {
  "block original": await openSession(block),
  "block merged 0.5": await openSession(await merged(singleModelBundle(copy(block)), 0.5)),
  "unet original": await openSession(buildUnet()),
  "unet merged 0.5": await openSession(await merged(singleModelBundle(buildUnet()), 0.5)),
};
const ortFeeds = {
  block: contenders["block original"].toOrtFeeds(blockFeeds),
  unet: contenders["unet original"].toOrtFeeds(unetFeeds),
};
const times: Record<string, number[]> = Object.fromEntries(
  Object.keys(contenders).map((name) => [name, [] as number[]]),
);
const outputs: Record<string, Float32Array> = {};
for (let r = 0; r <= REPEATS; r++) {
  for (const [name, session] of Object.entries(contenders)) {
    const feeds = name.startsWith("block") ? ortFeeds.block : ortFeeds.unet;
    const t = performance.now();
    const out = (await session.runRaw(feeds)) as Record<string, { data: Float32Array }>;
    const ms = performance.now() - t;
    if (r > 0) times[name]?.push(ms); // the first round warms up
    outputs[name] = Float32Array.from((Object.values(out)[0] as { data: Float32Array }).data);
  }
}
for (const session of Object.values(contenders)) await session.release();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

function psnr(a: Float32Array, b: Float32Array): number {
  let peak = 0;
  let error = 0;
  for (let i = 0; i < a.length; i++) {
    peak = Math.max(peak, Math.abs(b[i] ?? 0));
    error += ((a[i] ?? 0) - (b[i] ?? 0)) ** 2;
  }
  return 10 * Math.log10((peak * peak) / (error / a.length));
}

const reference = outputs["unet original"] as Float32Array;
const quality: string[] = [];
for (const ratio of RATIOS) {
  const out =
    ratio === 0.5
      ? (outputs["unet merged 0.5"] as Float32Array)
      : await (async () => {
          const session = await openSession(await merged(singleModelBundle(buildUnet()), ratio));
          const result = await session.run(unetFeeds);
          await session.release();
          return (Object.values(result)[0] as Tensor).toArray() as Float32Array;
        })();
  quality.push(`| ${ratio} | ${psnr(out, reference).toFixed(2)} dB |`);
}

const ratio = (a: string, b: string) => median(times[a] ?? []) / median(times[b] ?? []);
const blockRatio = ratio("block merged 0.5", "block original");
const unetRatio = ratio("unet merged 0.5", "unet original");
console.log(
  `\nzoo unet small, ${SIDE}×${SIDE} latent (${SIDE * SIDE} tokens at the first level), batch 1, ${REPEATS} interleaved runs (median)\n`,
);
console.log("| model | original ms | merged (0.5) ms | merged / original |\n|---|---|---|---|");
for (const [label, key] of [
  ["transformer block (level 0)", "block"],
  ["whole unet", "unet"],
] as const) {
  console.log(
    `| ${label} | ${median(times[`${key} original`] ?? []).toFixed(1)} | ${median(times[`${key} merged 0.5`] ?? []).toFixed(1)} | ${ratio(`${key} merged 0.5`, `${key} original`).toFixed(3)} |`,
  );
}
console.log("\n| ratio | noise-prediction PSNR vs the original |\n|---|---|");
for (const line of quality) console.log(line);
console.log(
  `\nfloor: transformer block ${blockRatio.toFixed(3)} ≤ 0.7: ${blockRatio <= 0.7 ? "PASS" : "FAIL"}; whole denoiser ${unetRatio.toFixed(3)} ≤ 0.85: ${unetRatio <= 0.85 ? "PASS" : "FAIL"}`,
);
