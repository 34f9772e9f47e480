import { DataType, type Model, type Node } from "@lathe/core";
import { floatOutput, int64Rows, maxAbsDiff, openOrtSession } from "@lathe/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { gpt2 } from "../src/models/gpt2.js";
import type { Gpt2Config } from "../src/models/gpt2-config.js";
import { arange, CausalLm, cacheNames, ones } from "./helpers/causal-lm.js";
import { constantTensor, dimsOf, floats, node, parentPath, scopeOps } from "./helpers/graph.js";
import { std } from "./helpers/numbers.js";
import { buildError, expectDeterministic, expectOutlierNorms } from "./helpers/zoo.js";

const tiny = gpt2.presets.tiny;
const { layers, heads, vocab, hidden } = tiny;
const headDim = hidden / heads;
const SEED = 11;

function build(overrides: Partial<Gpt2Config> = {}, seed = SEED): Model {
  const model = gpt2.build({ ...tiny, ...overrides }, { seed }).components.get("model");
  if (!model) throw new Error("the gpt2 bundle has no `model` component");
  return model;
}

describe("zoo gpt2", () => {
  let lm: CausalLm;

  beforeAll(async () => {
    const shape = { layers, vocab, cacheHeads: heads, headDim };
    lm = await CausalLm.create(shape, build(), build({ kvCache: true }));
  });

  it("builds tiny with Optimum's inputs, outputs, names and opset", () => {
    const model = build();
    expect(model.opset()).toBe(13);
    expect([...model.opsetImports.keys()]).toEqual([""]);
    expect(model.irVersion).toBe(8);
    expect([model.producerName, model.producerVersion]).toEqual(["pytorch", "2.0.1"]);
    expect(model.graph.name).toBe("torch_jit");
    expect(model.graph.inputs.map((v) => v.name)).toEqual([
      "input_ids",
      "attention_mask",
      "position_ids",
    ]);
    expect(model.graph.outputs.map((v) => v.name)).toEqual(["logits"]);
    expect(dimsOf(model.graph.outputs[0])).toEqual(["batch_size", "sequence_length", vocab]);

    // Parameters under their state-dict names, in state-dict order, used as stored.
    const initializers = [...model.graph.initializers.keys()];
    expect(initializers.slice(0, 4)).toEqual([
      "transformer.wte.weight",
      "transformer.wpe.weight",
      "transformer.h.0.ln_1.weight",
      "transformer.h.0.ln_1.bias",
    ]);
    expect(initializers.at(-1)).toBe("transformer.ln_f.bias");
    expect(initializers).toHaveLength(2 + 12 * layers + 2);
    const gemm = node(model, "/transformer/h.0/attn/c_attn/Gemm");
    expect(gemm.inputs[1]?.name).toBe("transformer.h.0.attn.c_attn.weight");
    expect(gemm.inputs[1]?.constValue?.dims).toEqual([hidden, 3 * hidden]);
    expect([gemm.getFloat("alpha"), gemm.getFloat("beta")]).toEqual([1, 1]);

    // Tied LM head: Optimum's deduplication transposes the embedding itself.
    const lmHead = node(model, "/lm_head/MatMul");
    expect(lmHead.outputs[0]?.name).toBe("logits");
    const transpose = lmHead.inputs[1]?.producer() as Node;
    expect(transpose.opType).toBe("Transpose");
    expect(transpose.inputs[0]?.name).toBe("transformer.wte.weight");
    expect(transpose.name).toBe(`Transpose_${model.graph.nodeCount}`);

    const withCache = build({ kvCache: true });
    expect(withCache.graph.inputs.map((v) => v.name)).toEqual([
      "input_ids",
      ...cacheNames("past_key_values", layers),
      "attention_mask",
      "position_ids",
    ]);
    expect(withCache.graph.outputs.map((v) => v.name)).toEqual([
      "logits",
      ...cacheNames("present", layers),
    ]);
    expect(dimsOf(withCache.graph.inputs[1])).toEqual([
      "batch_size",
      heads,
      "past_sequence_length",
      headDim,
    ]);
    expect(dimsOf(withCache.graph.outputs[1])).toEqual([
      "batch_size",
      heads,
      "past_sequence_length + 1",
      headDim,
    ]);
  });

  it("runs on ONNX Runtime with the right shapes", async () => {
    const ids = [
      [1, 17, 300, 42, 999],
      [5, 6, 7, 8, 9],
    ];
    const data = await lm.logits(ids);
    expect(data.every(Number.isFinite)).toBe(true);
    expect(maxAbsDiff(data.subarray(0, vocab), data.subarray(vocab, 2 * vocab))).toBeGreaterThan(
      1e-3,
    );

    const out = await lm.cached.run({
      input_ids: int64Rows(ids),
      attention_mask: int64Rows(ones(2, 5)),
      position_ids: int64Rows(arange(2, 0, 5)),
      ...lm.emptyPasts(2),
    });
    expect(out.logits?.dims).toEqual([2, 5, vocab]);
    for (const name of cacheNames("present", layers))
      expect(out[name]?.dims).toEqual([2, heads, 5, headDim]);
  });

  it("computes GPT-2: logits equal a direct TypeScript forward pass", async () => {
    const model = build({ outliers: 2 });
    const session = await openOrtSession(model);
    const ids = [7, 123, 999, 4, 56];
    const out = await session.run({
      input_ids: int64Rows([ids]),
      attention_mask: int64Rows(ones(1, ids.length)),
      position_ids: int64Rows(arange(1, 0, ids.length)),
    });
    const expected = referenceLogits(model, ids);
    expect(maxAbsDiff(floatOutput(out, "logits"), expected)).toBeLessThan(1e-4);
  });

  it("is causal: a later token never changes earlier logits", async () => {
    await lm.expectCausal([3, 14, 15, 92, 65, 35], 4, 700);
  });

  it("masks left padding as generate() feeds it", async () => {
    await lm.expectLeftPaddingMasked([11, 22, 33, 44], [500, 501]);
  });

  it("agrees with itself through the KV cache: greedy decode of 8 tokens", async () => {
    const prompts = [
      [1, 450, 499, 17, 203],
      [1, 9, 88, 777, 31],
    ];
    const steps = 8;
    const referenceLogits = await lm.expectCacheAgreesWithPrefill(prompts, steps);
    // Not vacuous: every step sees a new position, so its logits differ from the last step's.
    for (let step = 1; step < steps; step++)
      expect(
        maxAbsDiff(referenceLogits[step]?.[0] ?? [], referenceLogits[step - 1]?.[0] ?? []),
      ).toBeGreaterThan(1e-3);
  });

  it("is deterministic from the seed", () => {
    expectDeterministic((seed) => build({}, seed), SEED);
    expect(floats(build({}, SEED + 1), "transformer.wte.weight")).not.toEqual(
      floats(build(), "transformer.wte.weight"),
    );
  });

  it("draws weights at GPT-2's initialization scales", () => {
    const model = build({ layers: 4, hidden: 128 });
    expect(std(floats(model, "transformer.wte.weight"))).toBeCloseTo(0.02, 3);
    expect(std(floats(model, "transformer.h.1.attn.c_attn.weight"))).toBeCloseTo(0.02, 3);
    // residual projections: 0.02 / sqrt(2 * n_layer)
    expect(std(floats(model, "transformer.h.1.mlp.c_proj.weight"))).toBeCloseTo(0.02 / 8 ** 0.5, 3);
    expect(floats(model, "transformer.h.1.attn.c_attn.bias").every((x) => x === 0)).toBe(true);
  });

  it("plants outlier channels in every block's LayerNorm weights", () => {
    const bundle = gpt2.build({ ...tiny, outliers: 3 }, { seed: SEED });
    const channels = bundle.metadata.outlierChannels as number[];
    expect(channels).toHaveLength(3);
    const model = bundle.components.get("model") as Model;
    const norms = Array.from({ length: layers }, (_, i) =>
      ["ln_1", "ln_2"].map((norm) => `transformer.h.${i}.${norm}.weight`),
    ).flat();
    expectOutlierNorms(model, norms, channels);
    expect(floats(model, "transformer.ln_f.weight").every((w) => w === 1)).toBe(true);
  });

  it("rejects configs that cannot form a model, naming the key", () => {
    const attempt = (overrides: Partial<Gpt2Config>) => buildError(() => build(overrides));
    expect(attempt({ heads: 5 })).toMatch(/^ZOO_CONFIG_INVALID config key "heads"/);
    expect(attempt({ layers: 1.5 })).toMatch(/"layers": must be an integer/);
    expect(attempt({ outliers: 65 })).toMatch(/"outliers"/);
    expect(attempt({ kvCache: "yes" as unknown as boolean })).toMatch(/"kvCache"/);
  });

  it("builds GPT-2 small: 124.4 M parameters", () => {
    const small = gpt2.presets.small;
    if (!small) throw new Error("gpt2 has no small preset");
    const model = gpt2.build(small, { seed: 0 }).components.get("model") as Model;
    let parameters = 0;
    for (const value of model.graph.initializers.values())
      parameters += (value.constValue?.dims ?? []).reduce((a, b) => a * b, 1);
    expect(parameters).toBe(124_439_808);
    // The node count of a real export's no-past graph (3,095 with the Range of position ids
    // and a folded wteᵀ) less those 6 nodes, plus Optimum's Transpose.
    expect(model.graph.nodeCount).toBe(3090);
  });
});

describe("zoo gpt2 graph shape (pinned to the exporter's pattern)", () => {
  const prefill = build();
  const withCache = build({ kvCache: true });

  it("writes one attention block op for op, as a real export does", () => {
    // biome-ignore format: one row per line of modeling code
    expect(blockOps(prefill)).toEqual([
      ...CONV1D,                                                   // c_attn
      "Constant", "Split",                                         // .split(split_size, dim=2)
      ...SPLIT_HEADS, ...SPLIT_HEADS, ...SPLIT_HEADS,              // _split_heads(q), (k), (v)
      "Transpose", "MatMul",                                       // q @ k.transpose(-1, -2), folded
      ...SCALE,
      ...CAUSAL_MASK,
      "Add", "Softmax", "Cast", "MatMul",                          // + mask, softmax, .type(), @ v
      ...MERGE_HEADS,
      ...CONV1D,                                                   // c_proj
      "Add",                                                       // attn_output + residual
    ]);
  });

  it("writes the cached block with the past concatenated before attention", () => {
    // biome-ignore format: one row per line of modeling code
    expect(blockOps(withCache)).toEqual([
      ...CONV1D,
      "Constant", "Split",
      ...SPLIT_HEADS, ...SPLIT_HEADS, ...SPLIT_HEADS,
      "Concat", "Concat",                                          // torch.cat((past, new), dim=-2)
      "Transpose", "MatMul",                                       // key.transpose(-1, -2)
      ...SCALE,
      ...CAUSAL_MASK,
      "Add", "Softmax", "Cast", "MatMul",
      ...MERGE_HEADS,
      ...CONV1D,
      "Add",
    ]);
    const keyConcat = node(withCache, "/transformer/h.1/attn/Concat_3");
    expect(keyConcat.inputs[0]?.name).toBe("past_key_values.1.key");
    expect(keyConcat.getInt("axis")).toBe(-2);
    expect(keyConcat.outputs[0]?.name).toBe("present.1.key");
    expect(node(withCache, "/transformer/h.1/attn/Transpose_3").getInts("perm")).toEqual([
      0, 1, 3, 2,
    ]);
    expect(node(prefill, "/transformer/h.1/attn/Transpose_3").getInts("perm")).toEqual([
      0, 2, 3, 1,
    ]);
  });

  it("writes LayerNorm and gelu_new out as opset 13 does", () => {
    // biome-ignore format: the ops of one line of modeling code
    expect(scopeOps(prefill, "/transformer/h.0/ln_1/")).toEqual([
      "ReduceMean", "Sub", "Constant", "Pow", "ReduceMean", "Constant", "Add", "Sqrt", "Div",
      "Mul", "Add",
    ]);
    // biome-ignore format: the ops of one line of modeling code
    expect(scopeOps(prefill, "/transformer/h.0/mlp/act/")).toEqual([
      "Constant", "Mul", "Constant", "Pow", "Constant", "Mul", "Add", "Constant", "Mul", "Tanh",
      "Constant", "Add", "Mul",
    ]);
    const tanhScale = constantTensor(node(prefill, "/transformer/h.0/mlp/act/Constant_3"));
    expect(tanhScale.toArray()[0]).toBeCloseTo(0.7978846, 6);
  });

  it("matches the paths of a real export and of onnxruntime's GPT-2 fusion", () => {
    for (const model of [prefill, withCache]) {
      // fusion_gpt_attention.py qkv_nodes: Add ← Reshape ← Gemm ← Reshape ← Reshape ← Transpose ← MatMul
      const residual = node(model, "/transformer/h.1/Add");
      const qkv = parentPath(
        residual,
        ["Reshape", "Gemm", "Reshape", "Reshape", "Transpose", "MatMul"],
        [0, 0, 0, 0, 0, 0],
      );
      const matmulQkv = qkv[5] as Node;
      // scores: Softmax ← Add(padding) ← Where ← Cast ← Div ← MatMul, mask from the shared buffer
      const [, , where, , , matmulQk] = parentPath(
        matmulQkv,
        ["Cast", "Softmax", "Add", "Where", "Cast", "Div", "MatMul"],
        [0, 0, 0, 0, 1, 0, 0],
      ).slice(1);
      expect(matmulQk?.opType).toBe("MatMul");
      const mask = parentPath(
        where as Node,
        ["Slice", "Slice", "Unsqueeze", "Sub", "Squeeze", "Slice", "Shape"],
        [0, 0, 1, 0, 0, 0, 0],
      );
      const buffer = mask[1]?.inputs[0]?.producer();
      expect(buffer?.opType).toBe("Constant");
      expect(mask[1]?.inputs[0]?.name).toMatch(/^onnx::Slice_\d+$/);
      // every block reads block 0's buffer and mask value, as the exporter's CSE leaves them
      const block0 = node(model, "/transformer/h.0/attn/Where");
      expect(node(model, "/transformer/h.0/attn/Slice_3").inputs[0]).toBe(mask[1]?.inputs[0]);
      expect(block0.inputs[2]).toBe((where as Node).inputs[2]);
      // v path back to the fused QKV projection
      const vPath =
        model === prefill
          ? ["Transpose", "Reshape", "Split"]
          : ["Concat", "Transpose", "Reshape", "Split"];
      const vIndices = model === prefill ? [1, 0, 0] : [1, 1, 0, 0];
      const split = parentPath(matmulQkv, vPath, vIndices).at(-1) as Node;
      parentPath(split, ["Reshape", "Gemm", "Reshape", "Add"], [0, 0, 0, 0]);
    }
  });

  it("writes the causal buffer as a lower-triangular bool constant", () => {
    const slice = node(prefill, "/transformer/h.0/attn/Slice_3");
    const table = constantTensor(slice.inputs[0]?.producer());
    expect(table.dataType).toBe(DataType.BOOL);
    expect(table.dims).toEqual([1, 1, tiny.positions, tiny.positions]);
    const values = table.toArray() as Uint8Array;
    for (const [row, col] of [
      [0, 0],
      [5, 3],
      [5, 5],
      [5, 6],
      [127, 0],
      [0, 127],
    ] as const)
      expect(values[row * tiny.positions + col], `[${row}, ${col}]`).toBe(col <= row ? 1 : 0);
  });
});

// The op groups of one attention block, as the dump of a real export lists them.
// biome-ignore format: one row per line of modeling code
const CONV1D = [
  "Shape", "Constant", "Gather", "Shape", "Constant", "Gather",              // x.size()[:-1]
  "Shape", "Constant", "Constant", "Constant", "Slice", "Constant", "Squeeze", // x.size(-1)
  "Constant", "Constant", "Unsqueeze", "Concat", "Reshape",                   // x.view(-1, ·)
  "Gemm",                                                                     // addmm
  "Constant", "Unsqueeze", "Constant", "Unsqueeze", "Constant", "Concat", "Reshape", // .view(size_out)
];
// biome-ignore format: one row per line of modeling code
const SPLIT_HEADS = [
  "Shape", "Constant", "Gather", "Shape", "Constant", "Gather",
  "Constant", "Unsqueeze", "Constant", "Unsqueeze", "Constant", "Constant", "Concat", "Reshape",
  "Transpose",
];
// biome-ignore format: one row per line of modeling code
const SCALE = [
  "Shape", "Constant", "Constant", "Constant", "Slice", "Constant", "Squeeze", // value.size(-1)
  "Cast", "Constant", "Pow",                                                  // ** 0.5
  "Constant", "ConstantOfShape", "Add",                                       // torch.full([], ·)
  "Div",
];
// biome-ignore format: one row per line of modeling code
const CAUSAL_MASK = [
  "Shape", "Constant", "Constant", "Constant", "Slice", "Constant", "Squeeze", // query.size(-2)
  "Shape", "Constant", "Constant", "Constant", "Slice", "Constant", "Squeeze", // key.size(-2)
  "Sub",
  "Constant",                                                                 // the bias buffer
  "Constant", "Unsqueeze", "Constant", "Unsqueeze", "Constant", "Constant", "Slice", // [k-q:k]
  "Constant", "Constant", "Unsqueeze", "Constant", "Constant", "Slice",       // [:, :, ·, :k]
  "Constant", "Cast", "Where",                                                // where(mask, w, min)
];
// biome-ignore format: one row per line of modeling code
const MERGE_HEADS = [
  "Transpose", "Shape", "Constant", "Gather", "Shape", "Constant", "Gather",
  "Constant", "Unsqueeze", "Constant", "Unsqueeze", "Constant", "Concat", "Reshape",
];

/** Ops of block 0's attention: after ln_1's last node, through the residual Add. */
function blockOps(model: Model): string[] {
  const nodes = model.graph.nodes();
  const start = nodes.indexOf(node(model, "/transformer/h.0/ln_1/Add_1"));
  const end = nodes.indexOf(node(model, "/transformer/h.0/Add"));
  return nodes.slice(start + 1, end + 1).map((n) => n.opType);
}

/**
 * GPT2LMHeadModel's forward pass for one unpadded sequence, straight from the math
 * (float64), reading the model's own parameters.
 */
function referenceLogits(model: Model, ids: readonly number[]): Float64Array {
  const w = (name: string) => floats(model, name);
  const n = ids.length;
  const wte = w("transformer.wte.weight");
  const wpe = w("transformer.wpe.weight");
  let x = Array.from({ length: n }, (_, i) =>
    Float64Array.from(
      { length: hidden },
      (_, c) => wte[ids[i]! * hidden + c]! + wpe[i * hidden + c]!,
    ),
  );
  const norm = (rows: Float64Array[], prefix: string) => {
    const [gamma, beta] = [w(`${prefix}.weight`), w(`${prefix}.bias`)];
    return rows.map((row) => {
      const mean = row.reduce((a, b) => a + b, 0) / row.length;
      const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / row.length;
      return row.map((v, c) => ((v - mean) / Math.sqrt(variance + 1e-5)) * gamma[c]! + beta[c]!);
    });
  };
  const linear = (rows: Float64Array[], prefix: string, out: number) => {
    const [weight, bias] = [w(`${prefix}.weight`), w(`${prefix}.bias`)];
    return rows.map((row) =>
      Float64Array.from({ length: out }, (_, o) =>
        row.reduce((acc, v, i) => acc + v * weight[i * out + o]!, bias[o]!),
      ),
    );
  };
  for (let layer = 0; layer < layers; layer++) {
    const p = `transformer.h.${layer}`;
    const qkv = linear(norm(x, `${p}.ln_1`), `${p}.attn.c_attn`, 3 * hidden);
    const context = qkv.map(() => new Float64Array(hidden));
    for (let h = 0; h < heads; h++) {
      const at = (row: Float64Array, part: number, d: number) =>
        row[part * hidden + h * headDim + d]!;
      for (let i = 0; i < n; i++) {
        const scores = Array.from({ length: i + 1 }, (_, j) => {
          let dot = 0;
          for (let d = 0; d < headDim; d++) dot += at(qkv[i]!, 0, d) * at(qkv[j]!, 1, d);
          return dot / Math.sqrt(headDim);
        });
        const top = Math.max(...scores);
        const exps = scores.map((s) => Math.exp(s - top));
        const total = exps.reduce((a, b) => a + b, 0);
        for (let d = 0; d < headDim; d++)
          context[i]![h * headDim + d] = exps.reduce(
            (acc, e, j) => acc + (e / total) * at(qkv[j]!, 2, d),
            0,
          );
      }
    }
    const attended = linear(context, `${p}.attn.c_proj`, hidden).map((row, i) =>
      row.map((v, c) => v + x[i]![c]!),
    );
    const up = linear(norm(attended, `${p}.ln_2`), `${p}.mlp.c_fc`, 4 * hidden).map((row) =>
      row.map((v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)))),
    );
    x = linear(up, `${p}.mlp.c_proj`, hidden).map((row, i) =>
      row.map((v, c) => v + attended[i]![c]!),
    );
  }
  const final = norm(x, "transformer.ln_f");
  const logits = new Float64Array(n * vocab);
  final.forEach((row, i) => {
    for (let t = 0; t < vocab; t++) {
      let dot = 0;
      for (let c = 0; c < hidden; c++) dot += row[c]! * wte[t * hidden + c]!;
      logits[i * vocab + t] = dot;
    }
  });
  return logits;
}
