import { type Model, type PassStatistics, runPassStandalone, singleModelBundle } from "@lathe/core";
import { flashAttentionRewrite } from "@lathe/plugin-flash-attention";
import { gpt2, llama, unet } from "@lathe/plugin-zoo";
import { describe, expect, it } from "vitest";
import { structuredPass } from "../src/index.js";
import {
  clone,
  feedsFor,
  fitTo,
  maxAbsDiff,
  run,
  weight,
  zeroedReference,
} from "./structured-helpers.js";

async function prune(
  model: Model,
  options: Record<string, unknown>,
): Promise<{ model: Model; statistics: PassStatistics }> {
  const result = await runPassStandalone(structuredPass, singleModelBundle(clone(model)), {
    options,
  });
  return {
    model: result.result.bundle.components.get("model") as Model,
    statistics: result.result.statistics ?? {},
  };
}

/** The model with its attention fused by `flash-attention/rewrite` (GroupQueryAttention or MultiHeadAttention). */
async function fused(model: Model): Promise<Model> {
  const result = await runPassStandalone(flashAttentionRewrite, singleModelBundle(clone(model)), {
    options: {},
  });
  return result.result.bundle.components.get("model") as Model;
}

function only(bundle: { components: ReadonlyMap<string, Model> }, name: string): Model {
  return bundle.components.get(name) as Model;
}

const gpt2Tiny = () => only(gpt2.build(gpt2.presets.tiny, { seed: 3 }), "model");
const llamaTiny = () => only(llama.build(llama.presets.tiny, { seed: 3 }), "model");
const unetTiny = () => only(unet.build(unet.presets.tiny, { seed: 5 }), "unet");

/**
 * Every zoo transformer: the units each has (per block: heads, or KV groups under GQA; MLP
 * channels) and what 50 % of heads and 25 % of channels leave (multipleOf 4).
 */
const zoo = [
  { name: "gpt2", build: gpt2Tiny, heads: 8, headsRemoved: 4, channels: 512, channelsRemoved: 128 },
  {
    name: "gpt2 with a KV cache",
    build: () => only(gpt2.build({ ...gpt2.presets.tiny, kvCache: true }, { seed: 3 }), "model"),
    heads: 8,
    headsRemoved: 4,
    channels: 512,
    channelsRemoved: 128,
  },
  // 4 query heads over 2 KV heads: a unit is one KV head with its 2 query heads
  {
    name: "llama (GQA)",
    build: llamaTiny,
    heads: 4,
    headsRemoved: 2,
    channels: 344,
    channelsRemoved: 88,
  },
  {
    name: "llama (GQA) with a KV cache",
    build: () => only(llama.build({ ...llama.presets.tiny, kvCache: true }, { seed: 3 }), "model"),
    heads: 4,
    headsRemoved: 2,
    channels: 344,
    channelsRemoved: 88,
  },
  // self- and cross-attention of 4 transformers (2 heads each); GEGLU feed-forwards and the
  // time-embedding MLPs
  {
    name: "unet",
    build: unetTiny,
    heads: 16,
    headsRemoved: 8,
    channels: 896,
    channelsRemoved: 224,
  },
];

describe.each(zoo)("prune/structured on zoo $name", (m) => {
  it("with 0 % removed computes exactly what the original computes", async () => {
    const original = m.build();
    const { model, statistics } = await prune(original, { heads: 0, channels: 0 });
    expect(statistics.heads).toBe(m.heads);
    expect(statistics["heads-removed"]).toBe(0);
    const feeds = feedsFor(original);
    expect(maxAbsDiff(await run(original, feeds), await run(model, feeds))).toBe(0);
  });

  it("with k heads and channels removed equals the original with those units' weights zeroed (≤ 1e-4 on ORT)", async () => {
    const original = m.build();
    const { model, statistics } = await prune(original, {
      heads: 0.5,
      channels: 0.25,
      multipleOf: 4,
    });
    expect(statistics).toMatchObject({
      heads: m.heads,
      "heads-removed": m.headsRemoved,
      channels: m.channels,
      "channels-removed": m.channelsRemoved,
    });
    const feeds = feedsFor(original);
    const { model: reference, zeroed } = zeroedReference(original, model);
    expect(zeroed).toBeGreaterThan(0);
    const diff = maxAbsDiff(await run(reference, feeds), await run(model, fitTo(feeds, model)));
    expect(diff).toBeLessThanOrEqual(1e-4);
  });
});

describe("prune/structured on fused attention", () => {
  it.each([
    { name: "gpt2", build: gpt2Tiny, op: "GroupQueryAttention", heads: [2, 2] },
    { name: "llama", build: llamaTiny, op: "GroupQueryAttention", heads: [2, 1] },
    { name: "unet", build: unetTiny, op: "MultiHeadAttention", heads: [1, 1] },
  ])("$name after flash-attention/rewrite: $op's num_heads follow the kept heads", async (m) => {
    const original = await fused(m.build());
    const ops = original.graph.nodes().filter((n) => n.opType === m.op);
    expect(ops.length).toBeGreaterThan(0);
    const { model, statistics } = await prune(original, { heads: 0.5, multipleOf: 1 });
    expect(statistics["heads-removed"], JSON.stringify(statistics, null, 1)).toBeGreaterThan(0);
    const after = model.graph.nodes().filter((n) => n.opType === m.op);
    const [heads, kv] = m.heads as [number, number];
    for (const node of after) {
      expect(node.getInt("num_heads")).toBe(heads);
      if (m.op === "GroupQueryAttention") expect(node.getInt("kv_num_heads")).toBe(kv);
    }
    const feeds = feedsFor(original);
    const { model: reference } = zeroedReference(original, model);
    const diff = maxAbsDiff(await run(reference, feeds), await run(model, feeds));
    expect(diff).toBeLessThanOrEqual(1e-4);
  });
});

describe("prune/structured under grouped-query attention", () => {
  it("removes a KV head together with its group of query heads", async () => {
    // llama tiny: hidden 64, 4 query heads over 2 KV heads of 16
    const original = llamaTiny();
    const { model } = await prune(original, { heads: 0.5, multipleOf: 1 });
    const dims = (name: string) => weight(model, name).dims;
    const q = original.graph
      .nodes()
      .find((n) => n.name.endsWith("layers.0/self_attn/q_proj/MatMul"));
    const k = original.graph
      .nodes()
      .find((n) => n.name.endsWith("layers.0/self_attn/k_proj/MatMul"));
    const o = original.graph
      .nodes()
      .find((n) => n.name.endsWith("layers.0/self_attn/o_proj/MatMul"));
    expect(dims(q!.inputs[1]!.name)).toEqual([64, 32]); // 2 query heads of 16 left
    expect(dims(k!.inputs[1]!.name)).toEqual([64, 16]); // 1 KV head left
    expect(dims(o!.inputs[1]!.name)).toEqual([32, 64]);
  });
});
