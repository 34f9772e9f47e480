import {
  createBuilder,
  createCpuSessions,
  DataType,
  isLatheError,
  type Model,
  OnnxFunction,
  runPassStandalone,
  SeededRandom,
  singleModelBundle,
  Tensor,
  type Value,
} from "@lathe/core";
import { maxAbsDiff } from "@lathe/core/testing";
import flashAttention from "@lathe/plugin-flash-attention";
import { buildZooModel, zooModels } from "@lathe/plugin-zoo";
import { describe, expect, it } from "vitest";
import { loadCorpus } from "../../../../test/corpus/corpus.js";
import { mergeReference, type Tokens, tokenMerge, unmergeReference } from "../src/index.js";

const sessions = createCpuSessions();
const [WIDTH, HEADS] = [16, 2];

function noise(length: number, seed: number): Float32Array {
  return new SeededRandom(seed).uniforms(length, -1, 1);
}

/**
 * One self-attention as diffusers' AttnProcessor2_0 exports it (to_q/k/v, heads split, Softmax,
 * to_out with bias), or fused as flash-attention/rewrite writes it (MultiHeadAttention over the
 * [batch, tokens, width] projections). Input [batch, tokens, 16], tokens symbolic.
 */
function selfAttention(fused: boolean, opset = 14): { model: Model; keyWeight: Float32Array } {
  const b = createBuilder({ opset });
  const x = b.input("hidden_states", DataType.FLOAT, ["batch", "tokens", WIDTH]);
  const weights = [1, 2, 3, 4].map((seed) => noise(WIDTH * WIDTH, seed).map((v) => v * 0.5));
  const w = (i: number) =>
    b.initializer(Tensor.fromArray(DataType.FLOAT, [WIDTH, WIDTH], weights[i] as Float32Array));
  const q = b.MatMul(x, w(0));
  const k = b.MatMul(x, w(1));
  const v = b.MatMul(x, w(2));
  let context: Value;
  if (fused) {
    context = b.domain("com.microsoft", 1).MultiHeadAttention(q, k, v, { num_heads: HEADS });
  } else {
    const split = b.int64s([0, -1, HEADS, WIDTH / HEADS]);
    const heads = (t: Value) => b.Transpose(b.Reshape(t, split), { perm: [0, 2, 1, 3] });
    const kT = b.Transpose(b.Reshape(k, split), { perm: [0, 2, 3, 1] });
    const scale = b.constant([1 / Math.sqrt(WIDTH / HEADS)], []);
    const probs = b.Softmax(b.Mul(b.MatMul(heads(q), kT), scale), { axis: -1 });
    context = b.Reshape(
      b.Transpose(b.MatMul(probs, heads(v)), { perm: [0, 2, 1, 3] }),
      b.int64s([0, -1, WIDTH]),
    );
  }
  const bias = b.constant(noise(WIDTH, 9), [WIDTH]);
  b.output(b.Add(b.MatMul(context, w(3)), bias), "out", DataType.FLOAT);
  return { model: b.build(), keyWeight: weights[1] as Float32Array };
}

async function run(model: Model, feeds: Record<string, Tensor>): Promise<Float32Array> {
  const [out] = await sessions.run(model, [feeds]);
  return Object.values(out ?? {})[0]?.toArray() as Float32Array;
}

function project(tokens: Tokens, weight: Float32Array): Tokens {
  const { batch, n, width } = tokens;
  const values = new Float32Array(batch * n * width);
  for (let row = 0; row < batch * n; row++)
    for (let o = 0; o < width; o++) {
      let s = 0;
      for (let i = 0; i < width; i++)
        s += (tokens.values[row * width + i] ?? 0) * (weight[i * width + o] ?? 0);
      values[row * width + o] = s;
    }
  return { values, batch, n, width };
}

describe("latent/token-merge on one attention block", () => {
  const cases = [
    [false, "hidden", 14],
    [false, "keys", 14],
    [true, "hidden", 14],
    [true, "keys", 14],
    [false, "hidden", 18], // reductions take their axes as an input from opset 18
  ] as const;
  for (const [fused, similarity, opset] of cases) {
    it(`${fused ? "fused MultiHeadAttention" : "unfused Softmax"}, ${similarity}, opset ${opset}: equals the TypeScript merge → block → unmerge, at several token counts`, async () => {
      const { model: original, keyWeight } = selfAttention(fused, opset);
      const { model: copy } = selfAttention(fused, opset);
      const result = await runPassStandalone(tokenMerge, singleModelBundle(copy), {
        options: { ratio: 0.5, similarity },
      });
      expect(result.result.statistics?.wrapped).toBe(1);
      const merged = result.result.bundle.components.get("model") as Model;
      expect(merged.opset("")).toBe(Math.max(opset, 16));
      for (const [batch, n] of [
        [1, 16],
        [2, 23],
        [1, 40],
      ] as const) {
        const hidden: Tokens = {
          values: noise(batch * n * WIDTH, 100 + n),
          batch,
          n,
          width: WIDTH,
        };
        const metric = similarity === "keys" ? project(hidden, keyWeight) : hidden;
        const reference = mergeReference(hidden, metric, 0.5, 4);
        expect(reference.r).toBe(Math.min(Math.floor(n * 0.5), n - Math.ceil(n / 4)));
        const feed = (t: Tokens) => ({
          hidden_states: Tensor.fromArray(DataType.FLOAT, [t.batch, t.n, t.width], t.values),
        });
        const blockOut = await run(original, feed(reference.tokens));
        const expected = unmergeReference(
          { ...reference.tokens, values: blockOut },
          reference.rows,
          n,
        );
        const actual = await run(merged, feed(hidden));
        expect(maxAbsDiff(actual, expected.values), `batch ${batch}, ${n} tokens`).toBeLessThan(
          1e-4,
        );
        // merging changed the output: the merged block is not the original
        expect(maxAbsDiff(actual, await run(original, feed(hidden)))).toBeGreaterThan(1e-3);
      }
    });
  }

  it("ratio 0 leaves the model unchanged; a ratio that merges no token is the identity", async () => {
    const zero = await runPassStandalone(
      tokenMerge,
      singleModelBundle(selfAttention(false).model),
      { options: { ratio: 0 } },
    );
    expect(zero.result.modified).toBe(false);
    const { model: original } = selfAttention(false);
    const none = await runPassStandalone(
      tokenMerge,
      singleModelBundle(selfAttention(false).model),
      { options: { ratio: 0.01 } }, // ⌊0.01·N⌋ = 0 below 100 tokens: the graph permutes and restores
    );
    const model = none.result.bundle.components.get("model") as Model;
    const feeds = {
      hidden_states: Tensor.fromArray(DataType.FLOAT, [2, 37, WIDTH], noise(2 * 37 * WIDTH, 5)),
    };
    expect(maxAbsDiff(await run(model, feeds), await run(original, feeds))).toBeLessThan(1e-5);
  });

  it("refuses a model without self-attention, saying what it looks for", async () => {
    const b = createBuilder({ opset: 14 });
    const x = b.input("x", DataType.FLOAT, [1, 4, WIDTH]);
    const w = b.initializer(Tensor.fromArray(DataType.FLOAT, [WIDTH, WIDTH], noise(256, 1)));
    b.output(b.Softmax(b.MatMul(x, w), { axis: -1 }), "y", DataType.FLOAT);
    const error = await runPassStandalone(tokenMerge, singleModelBundle(b.build()), {
      options: { ratio: 0.5 },
    }).catch((e: unknown) => e);
    expect(isLatheError(error) && error.code).toBe("TOKEN_MERGE_NO_SELF_ATTENTION");
    expect(String((error as Error).message)).toMatch(/no self-attention found/);
  });
});

function unetFeeds(size: number, context: number, seed: number): Record<string, Tensor> {
  return {
    sample: Tensor.fromArray(DataType.FLOAT, [1, 4, size, size], noise(4 * size * size, seed)),
    timestep: Tensor.fromArray(DataType.FLOAT, [1], [500]),
    encoder_hidden_states: Tensor.fromArray(
      DataType.FLOAT,
      [1, context, 32],
      noise(context * 32, seed + 1),
    ),
  };
}

function psnr(a: Float32Array, b: Float32Array): number {
  let peak = 0;
  let error = 0;
  for (let i = 0; i < a.length; i++) {
    peak = Math.max(peak, Math.abs(b[i] ?? 0));
    error += ((a[i] ?? 0) - (b[i] ?? 0)) ** 2;
  }
  return 10 * Math.log10((peak * peak) / (error / a.length));
}

describe("latent/token-merge on the zoo unet (tiny)", () => {
  const unet = () => buildZooModel(zooModels, "unet", { size: "tiny" }).bundle;

  it("wraps the highest-resolution self-attention by default, every site on request, and runs at other resolutions", async () => {
    const original = unet().components.get("unet") as Model;
    const byDefault = await runPassStandalone(tokenMerge, unet(), { options: { ratio: 0.5 } });
    const stats = byDefault.result.statistics ?? {};
    // down 0 and up 1 (two layers) at width 32, the mid block at 64
    expect(stats["self-attention blocks"]).toBe(4);
    expect(stats.blocks).toBe(3);
    expect(stats.wrapped).toBe(3);
    const all = await runPassStandalone(tokenMerge, unet(), {
      options: {
        ratio: 0.5,
        levels: 2,
        merge: ["self-attention", "cross-attention", "feed-forward"],
      },
    });
    expect(all.result.statistics?.wrapped).toBe(12);
    expect(all.result.statistics?.declined).toBe(0);
    for (const [result, floor] of [
      [byDefault, 15],
      [all, 5],
    ] as const) {
      const model = result.result.bundle.components.get("unet") as Model;
      for (const [size, context] of [
        [8, 4],
        [12, 7],
        [16, 3],
      ] as const) {
        const feeds = unetFeeds(size, context, size);
        const [a, b] = [await run(model, feeds), await run(original, feeds)];
        expect(a.every(Number.isFinite)).toBe(true);
        const quality = psnr(a, b);
        expect(quality, `size ${size}`).toBeGreaterThan(floor);
        expect(quality, `size ${size}`).toBeLessThan(80); // merged: not the original
      }
    }
  });

  it("merges after flash-attention/rewrite (fused MultiHeadAttention)", async () => {
    const bundle = unet();
    const rewrite = flashAttention.passes?.find((p) => p.id === "flash-attention/rewrite");
    const fused = await runPassStandalone(rewrite!, bundle, { options: { target: "cpu" } });
    const merged = await runPassStandalone(tokenMerge, fused.result.bundle, {
      options: { ratio: 0.5 },
    });
    expect(merged.result.statistics?.wrapped).toBe(3);
    const model = merged.result.bundle.components.get("unet") as Model;
    expect(model.graph.nodes().some((n) => n.opType === "MultiHeadAttention")).toBe(true);
    const original = unet().components.get("unet") as Model;
    const feeds = unetFeeds(12, 5, 3);
    expect(psnr(await run(model, feeds), await run(original, feeds))).toBeGreaterThan(15);
  });
});

const corpus = loadCorpus();

describe.skipIf(typeof corpus === "string")(
  `latent/token-merge on the real export of diffusers' BasicTransformerBlock${typeof corpus === "string" ? ` (skipped: ${corpus})` : ""}`,
  () => {
    it("wraps its self-attention (torch-1 baddbmm form), exact at ratio ≈ 0, dynamic at ratio 0.5", async () => {
      if (typeof corpus === "string") return;
      const entry = corpus.models.find((m) => m.name === "diffusers-transformer-block");
      const { loadModel } = await import("@lathe/core");
      const load = async () => singleModelBundle(await loadModel(entry!.path));
      const original = (await load()).components.get("model") as Model;
      const feeds = (batch: number, sequence: number, context: number) => ({
        hidden_states: Tensor.fromArray(
          DataType.FLOAT,
          [batch, sequence, 16],
          noise(batch * sequence * 16, sequence),
        ),
        encoder_hidden_states: Tensor.fromArray(
          DataType.FLOAT,
          [batch, context, 12],
          noise(batch * context * 12, context),
        ),
      });
      const none = await runPassStandalone(tokenMerge, await load(), { options: { ratio: 0.01 } });
      const identity = none.result.bundle.components.get("model") as Model;
      const f = feeds(2, 9, 3);
      expect(maxAbsDiff(await run(identity, f), await run(original, f))).toBeLessThan(1e-5);
      const half = await runPassStandalone(tokenMerge, await load(), {
        options: { ratio: 0.5, merge: ["self-attention", "cross-attention", "feed-forward"] },
      });
      expect(half.result.statistics?.wrapped, half.logs.map((l) => l.message).join("\n")).toBe(3);
      const model = half.result.bundle.components.get("model") as Model;
      for (const [batch, sequence, context] of [
        [1, 8, 4],
        [2, 21, 5],
      ] as const) {
        const out = await run(model, feeds(batch, sequence, context));
        expect(out.length).toBe(batch * sequence * 16);
        expect(out.every(Number.isFinite)).toBe(true);
      }
    });
  },
);

/**
 * The same self-attention as `selfAttention(false)`, inside a model-local function whose weights
 * are parameters (as a module-per-function exporter writes it): the main graph passes its
 * initializers to one call.
 */
function attentionInFunction(): Model {
  const body = createBuilder({ opset: 14 });
  const x = body.input("x", DataType.FLOAT);
  const [wq, wk, wv, wo, bias] = ["wq", "wk", "wv", "wo", "bias"].map((n) =>
    body.input(n, DataType.FLOAT),
  ) as [Value, Value, Value, Value, Value];
  // a function body holds no initializers: its constants are Constant nodes
  const ints = (values: number[]) =>
    body.Constant({ value: Tensor.fromArray(DataType.INT64, [values.length], values.map(BigInt)) });
  const split = ints([0, -1, HEADS, WIDTH / HEADS]);
  const heads = (t: Value) => body.Transpose(body.Reshape(t, split), { perm: [0, 2, 1, 3] });
  const kT = body.Transpose(body.Reshape(body.MatMul(x, wk), split), { perm: [0, 2, 3, 1] });
  const scale = body.Constant({
    value: Tensor.fromArray(DataType.FLOAT, [], [1 / Math.sqrt(WIDTH / HEADS)]),
  });
  const probs = body.Softmax(body.Mul(body.MatMul(heads(body.MatMul(x, wq)), kT), scale), {
    axis: -1,
  });
  const context = body.Reshape(
    body.Transpose(body.MatMul(probs, heads(body.MatMul(x, wv))), { perm: [0, 2, 1, 3] }),
    ints([0, -1, WIDTH]),
  );
  body.output(body.Add(body.MatMul(context, wo), bias), "y");
  const b = createBuilder({ opset: 14, opsets: { local: 1 } });
  const hidden = b.input("hidden_states", DataType.FLOAT, ["batch", "tokens", WIDTH]);
  const weights = [1, 2, 3, 4].map((seed) =>
    b.initializer(
      Tensor.fromArray(
        DataType.FLOAT,
        [WIDTH, WIDTH],
        noise(WIDTH * WIDTH, seed).map((v) => v * 0.5),
      ),
    ),
  );
  const biasValue = b.constant(noise(WIDTH, 9), [WIDTH]);
  const out = b.op("Attention", [hidden, ...weights, biasValue], {}, { domain: "local" });
  b.output(out, "out", DataType.FLOAT);
  const model = b.build();
  const fn = new OnnxFunction({
    domain: "local",
    name: "Attention",
    graph: body.graph,
    opsetImports: [["", 14]],
  });
  model.functions.set(fn.key, fn);
  return model;
}

describe("latent/token-merge on attention inside a model-local function", () => {
  it("inlines the call and merges as in the plain model (ORT, max abs ≤ 1e-5)", async () => {
    const options = { options: { ratio: 0.5 } };
    const plain = await runPassStandalone(
      tokenMerge,
      singleModelBundle(selfAttention(false).model),
      options,
    );
    const inFunction = await runPassStandalone(
      tokenMerge,
      singleModelBundle(attentionInFunction()),
      options,
    );
    const statistics = inFunction.result.statistics ?? {};
    expect(statistics["function-calls-inlined"]).toBe(1);
    expect(statistics.wrapped).toBe(1);
    const model = inFunction.result.bundle.components.get("model") as Model;
    expect(model.functions.size).toBe(0);
    const feeds = {
      hidden_states: Tensor.fromArray(DataType.FLOAT, [2, 24, WIDTH], noise(2 * 24 * WIDTH, 6)),
    };
    const reference = await run(plain.result.bundle.components.get("model") as Model, feeds);
    expect(maxAbsDiff(await run(model, feeds), reference)).toBeLessThan(1e-5);
  });
});
