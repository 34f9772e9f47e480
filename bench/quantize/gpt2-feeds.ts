import { SeededRandom } from "@lathe/core";
import { gpt2 } from "@lathe/plugin-zoo";
import * as ort from "onnxruntime-node";

/** The zoo gpt2 preset the weight-only benchmark runs (`BENCH_GPT2`, default small). */
export const PRESET = process.env.BENCH_GPT2 ?? "small";

interface Shape {
  heads: number;
  hidden: number;
  layers: number;
  vocab: number;
  positions: number;
}

export const config = gpt2.presets[PRESET] as (typeof gpt2.presets)[string] & Shape;
if (!config) throw new Error(`zoo gpt2 has no preset "${PRESET}"`);

/** Past length of the decode step: 128, or what a smaller preset's positions allow. */
export const PAST = Math.min(128, config.positions - 1);

/** A seeded uniform generator in [0, 1). */
export function random(seed: number) {
  const generator = new SeededRandom(seed);
  return () => generator.uniform();
}

/** Inputs of the kvCache gpt2: `ids` after a seeded past of `past` positions. */
export function feedsFor(ids: number[][], past: number): Record<string, ort.Tensor> {
  const batch = ids.length;
  const length = ids[0]?.length ?? 0;
  const { heads, hidden, layers } = config;
  const headDim = hidden / heads;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor("int64", BigInt64Array.from(ids.flat(), BigInt), [batch, length]),
    attention_mask: new ort.Tensor("int64", new BigInt64Array(batch * (past + length)).fill(1n), [
      batch,
      past + length,
    ]),
    position_ids: new ort.Tensor(
      "int64",
      BigInt64Array.from(ids.flatMap((row) => row.map((_, i) => BigInt(past + i)))),
      [batch, length],
    ),
  };
  const u = random(99);
  const cache = Float32Array.from({ length: batch * heads * past * headDim }, () => u() * 2 - 1);
  for (let i = 0; i < layers; i++)
    for (const kind of ["key", "value"])
      feeds[`past_key_values.${i}.${kind}`] = new ort.Tensor("float32", cache, [
        batch,
        heads,
        past,
        headDim,
      ]);
  return feeds;
}
