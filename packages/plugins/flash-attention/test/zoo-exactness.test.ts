import { join } from "node:path";
import { formatTrace, loadModel, type Model, type ModelBundle } from "@lathe/core";
import {
  int64Rows,
  maxOutputDiff,
  opCounts,
  openOrtSession,
  randomFloat32Tensor,
  withTempDir,
} from "@lathe/core/testing";
import { gpt2, llama, unet, vae } from "@lathe/plugin-zoo";
import { describe, expect, it } from "vitest";
import { rewritten } from "./helpers.js";

const TOLERANCE = 1e-4;
const component = (bundle: ModelBundle, name: string) => {
  const model = bundle.components.get(name);
  if (!model) throw new Error(`no component ${name}`);
  return model;
};

/**
 * The model as ONNX Runtime's optimizer saves it (`extended`, as test/corpus/ort-optimize.mjs):
 * FusedMatMul scores with the scale in alpha, transposes moved by its transpose optimizer.
 */
function ortSaved(model: Model): Promise<Model> {
  return withTempDir(async (dir) => {
    const path = join(dir, "saved.onnx");
    const session = await openOrtSession(model, {
      graphOptimizationLevel: "extended",
      optimizedModelFilePath: path,
      logSeverityLevel: 3,
    });
    await session.release();
    return loadModel(path);
  });
}

/** Each zoo model as built, and as ORT's optimizer saves it. */
const FORMS = [
  { form: "", prepare: async (model: Model) => model },
  { form: " (saved by ORT's optimizer)", prepare: ortSaved },
];

/** Prefill feeds for a decoder: batch 2, the second row left-padded by `pad` tokens. */
function prefillFeeds(length: number, vocab: number, pad: number) {
  const ids = [0, 1].map((r) => Array.from({ length }, (_, i) => (7 * i + 3 * r + 1) % vocab));
  const mask = [Array(length).fill(1), Array.from({ length }, (_, i) => (i < pad ? 0 : 1))];
  const positions = mask.map((row) => {
    let p = 0;
    return row.map((m) => (m ? p++ : 1));
  });
  return {
    input_ids: int64Rows(ids),
    attention_mask: int64Rows(mask),
    position_ids: int64Rows(positions),
  };
}

/** Logits rows of padded positions are undefined in both models: compare the rest. */
const validRows =
  (pad: number, length: number) => (name: string, index: number, dims: readonly number[]) => {
    if (name !== "logits") return true;
    const row = Math.floor(index / dims[2]!);
    const batch = Math.floor(row / length);
    const position = row % length;
    return !(batch === 1 && position < pad);
  };

describe.each(
  [
    {
      name: "gpt2",
      build: () => gpt2.build(gpt2.presets.tiny, { seed: 3 }),
      cached: () => gpt2.build({ ...gpt2.presets.tiny, kvCache: true }, { seed: 3 }),
      heads: gpt2.presets.tiny.heads,
      kvHeads: gpt2.presets.tiny.heads,
      headDim: gpt2.presets.tiny.hidden / gpt2.presets.tiny.heads,
      vocab: gpt2.presets.tiny.vocab,
      layers: gpt2.presets.tiny.layers,
      rule: "causal-buffer",
    },
    {
      name: "llama",
      build: () => llama.build(llama.presets.tiny, { seed: 3 }),
      cached: () => llama.build({ ...llama.presets.tiny, kvCache: true }, { seed: 3 }),
      heads: llama.presets.tiny.heads,
      kvHeads: llama.presets.tiny.kvHeads,
      headDim: llama.presets.tiny.hidden / llama.presets.tiny.heads,
      vocab: llama.presets.tiny.vocab,
      layers: llama.presets.tiny.layers,
      rule: "additive-mask",
    },
  ].flatMap((m) => FORMS.map((f) => ({ ...m, ...f }))),
)("zoo $name rewritten$form", (m) => {
  it("fuses every attention block into GroupQueryAttention and stays exact at three lengths with padding", async () => {
    const original = await m.prepare(component(m.build(), "model"));
    const { model, report } = await rewritten(original);
    expect(report.declined).toEqual({});
    expect(report.fused).toEqual({ [m.rule]: m.layers });
    expect(opCounts(model).GroupQueryAttention).toBe(m.layers);
    expect(opCounts(model).Softmax).toBeUndefined();
    if (m.name === "llama") {
      // RoPE folded into GQA: rotate_half's Neg is gone, the op rotates with half-width caches
      expect(opCounts(model).Neg).toBeUndefined();
      const gqa = model.graph.nodes().filter((n) => n.opType === "GroupQueryAttention");
      expect(gqa.map((n) => n.getInt("do_rotary", 0))).toEqual(gqa.map(() => 1));
    }
    const [a, b] = [await openOrtSession(original), await openOrtSession(model)];
    for (const [length, pad] of [
      [3, 0],
      [8, 2],
      [13, 5],
    ] as const) {
      const feeds = prefillFeeds(length, m.vocab, pad);
      const diff = maxOutputDiff(await a.run(feeds), await b.run(feeds), validRows(pad, length));
      expect(diff, `length ${length}, pad ${pad}`).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it("keeps the cache I/O and decodes exactly with a KV cache", async () => {
    const original = await m.prepare(component(m.cached(), "model"));
    const { model, report } = await rewritten(original);
    expect(report.declined).toEqual({});
    expect(model.graph.inputs.map((v) => v.name)).toEqual(original.graph.inputs.map((v) => v.name));
    expect(model.graph.outputs.map((v) => v.name)).toEqual(
      original.graph.outputs.map((v) => v.name),
    );
    // on the CPU a cached causal step is MultiHeadAttention when there is one head count and no
    // rotation to fold (GPT-2), GroupQueryAttention otherwise (LLaMA: 2 key/value heads, RoPE)
    const fusedOp = m.kvHeads === m.heads ? "MultiHeadAttention" : "GroupQueryAttention";
    expect(opCounts(model)[fusedOp]).toBe(m.layers);
    const [a, b] = [await openOrtSession(original), await openOrtSession(model)];
    // an empty cache with a 5-token prompt (the first step), then single-token decode steps; the
    // second row's first two cached tokens are padding once the cache holds four
    for (const [past, length] of [
      [0, 5],
      [1, 1],
      [4, 1],
      [9, 1],
    ] as const) {
      const ids = [0, 1].map((r) => Array.from({ length }, (_, i) => (5 * i + r + 2) % m.vocab));
      const feeds: Record<string, import("onnxruntime-node").Tensor> = {
        input_ids: int64Rows(ids),
        attention_mask: int64Rows([
          Array(past + length).fill(1),
          Array.from({ length: past + length }, (_, i) => (past >= 4 && i < 2 ? 0 : 1)),
        ]),
        position_ids: int64Rows(ids.map((row) => row.map((_, i) => past + i))),
      };
      for (let i = 0; i < m.layers; i++) {
        feeds[`past_key_values.${i}.key`] = randomFloat32Tensor(
          [2, m.kvHeads, past, m.headDim],
          100 + i,
        );
        feeds[`past_key_values.${i}.value`] = randomFloat32Tensor(
          [2, m.kvHeads, past, m.headDim],
          200 + i,
        );
      }
      const diff = maxOutputDiff(await a.run(feeds), await b.run(feeds));
      expect(diff, `past ${past}, length ${length}`).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it("is idempotent: a second run changes nothing", async () => {
    const once = await rewritten(await m.prepare(component(m.build(), "model")));
    const twice = await rewritten(once.model);
    expect(twice.report.modified).toBe(false);
    expect(twice.report.trace).toEqual([]);
  });
});

describe.each(FORMS)("zoo diffusion models rewritten$form", ({ prepare }) => {
  it("unet: every self/cross attention becomes MultiHeadAttention and stays exact", async () => {
    const original = await prepare(component(unet.build(unet.presets.tiny, { seed: 5 }), "unet"));
    const { model, report } = await rewritten(original);
    expect(report.declined, formatTrace(report.trace).join("\n")).toEqual({});
    expect(report.fused.unmasked).toBeGreaterThan(0);
    expect(opCounts(model).Softmax).toBeUndefined();
    const [a, b] = [await openOrtSession(original), await openOrtSession(model)];
    for (const [size, context] of [
      [8, 4],
      [12, 7],
      [16, 3],
    ] as const) {
      const feeds = {
        sample: randomFloat32Tensor([1, 4, size, size], size),
        timestep: randomFloat32Tensor([1], 9),
        encoder_hidden_states: randomFloat32Tensor(
          [1, context, unet.presets.tiny.contextDim],
          context,
        ),
      };
      expect(
        maxOutputDiff(await a.run(feeds), await b.run(feeds)),
        `size ${size}`,
      ).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it("vae: the mid-block attention of encoder and decoder becomes MultiHeadAttention and stays exact", async () => {
    const bundle = vae.build(vae.presets.tiny, { seed: 5 });
    for (const [name, input, channels] of [
      ["vae_encoder", "sample", 3],
      ["vae_decoder", "latent_sample", 4],
    ] as const) {
      const original = await prepare(component(bundle, name));
      const { model, report } = await rewritten(original);
      expect(report.declined).toEqual({});
      expect(opCounts(model).MultiHeadAttention).toBeGreaterThan(0);
      const [a, b] = [await openOrtSession(original), await openOrtSession(model)];
      for (const size of [8, 12, 16]) {
        const feeds = { [input]: randomFloat32Tensor([1, channels, size, size], size) };
        expect(
          maxOutputDiff(await a.run(feeds), await b.run(feeds)),
          `${name} ${size}`,
        ).toBeLessThanOrEqual(TOLERANCE);
      }
    }
  });
});
