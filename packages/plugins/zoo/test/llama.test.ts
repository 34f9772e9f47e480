import { DataType, type Model, type Node } from "@lathe/core";
import { int64Rows, maxAbsDiff } from "@lathe/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { llama } from "../src/models/llama.js";
import type { LlamaConfig } from "../src/models/llama-config.js";
import { arange, CausalLm, ones } from "./helpers/causal-lm.js";
import {
  constantTensor,
  dimsOf,
  elementType,
  floats,
  node,
  parentPath,
  scopeOps,
} from "./helpers/graph.js";
import { buildError, expectDeterministic, expectOutlierNorms } from "./helpers/zoo.js";

const tiny = llama.presets.tiny;
const { layers, kvHeads, vocab } = tiny;
const headDim = tiny.hidden / tiny.heads;
const SEED = 7;

function build(overrides: Partial<LlamaConfig> = {}, seed = SEED): Model {
  const model = llama.build({ ...tiny, ...overrides }, { seed }).components.get("model");
  if (!model) throw new Error("the llama bundle has no `model` component");
  return model;
}

describe("zoo llama", () => {
  let lm: CausalLm;

  beforeAll(async () => {
    const shape = { layers, vocab, cacheHeads: kvHeads, headDim };
    lm = await CausalLm.create(shape, build(), build({ kvCache: true }));
  });

  it("builds tiny with the exporter's inputs, outputs, names and opset", () => {
    const model = build();
    expect(model.opset()).toBe(14);
    expect(model.irVersion).toBe(8);
    expect([model.producerName, model.producerVersion]).toEqual(["pytorch", "2.0.1"]);
    expect(model.graph.name).toBe("torch_jit");
    expect(model.graph.inputs.map((v) => v.name)).toEqual([
      "input_ids",
      "attention_mask",
      "position_ids",
    ]);
    expect(model.graph.outputs.map((v) => v.name)).toEqual(["logits"]);
    // LlamaForCausalLM ends in logits.float(): a Cast at the root module after lm_head
    const logits = model.graph.outputs[0]?.producer();
    expect([logits?.name, logits?.getInt("to")]).toEqual(["/Cast", DataType.FLOAT]);
    expect(logits?.inputs[0]?.producer()?.name).toBe("/lm_head/MatMul");

    // Parameters keep their state-dict names; the only other initializers are the folded
    // Linear weights W.T, [in, out], named onnx::MatMul_<id> (constant folding of ops on
    // literals alone leaves Constant nodes, not initializers).
    const initializers = [...model.graph.initializers.keys()];
    expect(initializers).toContain("model.embed_tokens.weight");
    expect(initializers).toContain("model.layers.1.post_attention_layernorm.weight");
    expect(initializers).toContain("model.norm.weight");
    const folded = initializers.filter((name) => !name.startsWith("model."));
    expect(folded).toHaveLength(7 * layers + 1);
    for (const name of folded) expect(name).toMatch(/^onnx::MatMul_\d+$/);
    const q = node(model, "/model/layers.0/self_attn/q_proj/MatMul");
    expect(q.inputs[1]?.name).toMatch(/^onnx::MatMul_\d+$/);
    expect(q.inputs[1]?.constValue?.dims).toEqual([64, 64]);

    const withCache = build({ kvCache: true });
    expect(withCache.graph.inputs.map((v) => v.name)).toEqual([
      "input_ids",
      "attention_mask",
      "position_ids",
      "past_key_values.0.key",
      "past_key_values.0.value",
      "past_key_values.1.key",
      "past_key_values.1.value",
    ]);
    expect(withCache.graph.outputs.map((v) => v.name)).toEqual([
      "logits",
      "present.0.key",
      "present.0.value",
      "present.1.key",
      "present.1.value",
    ]);
    expect(dimsOf(withCache.graph.inputs[3])).toEqual([
      "batch_size",
      kvHeads,
      "past_sequence_length",
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
    expect(out["present.1.value"]?.dims).toEqual([2, kvHeads, 5, headDim]);
  });

  it("is causal: a later token never changes earlier logits", async () => {
    await lm.expectCausal([3, 14, 15, 92, 65, 35], 4, 700);
  });

  it("masks left padding: a padded row's last logits equal the unpadded row's", async () => {
    await lm.expectLeftPaddingMasked([11, 22, 33, 44], [500, 501], [7, 8, 9, 10, 11, 12]);
  });

  it("agrees with itself through the KV cache: greedy decode of 8 tokens", async () => {
    const prompts = [
      [1, 450, 499, 17, 203],
      [1, 9, 88, 777, 31],
    ];
    await lm.expectCacheAgreesWithPrefill(prompts, 8);
  });

  it("is deterministic from the seed", () => {
    expectDeterministic((seed) => build({}, seed), SEED);
  });

  it("plants outlier channels in every layer's RMSNorm weights", () => {
    const bundle = llama.build({ ...tiny, outliers: 3 }, { seed: SEED });
    const channels = bundle.metadata.outlierChannels as number[];
    expect(channels).toHaveLength(3);
    const model = bundle.components.get("model") as Model;
    const norms = Array.from({ length: layers }, (_, i) =>
      ["input_layernorm", "post_attention_layernorm"].map((n) => `model.layers.${i}.${n}.weight`),
    ).flat();
    expectOutlierNorms(model, norms, channels);
    expect(floats(model, "model.norm.weight").every((w) => w === 1)).toBe(true);
  });

  it("writes the rotary caches as cos/sin of position × rope_theta^(-2i/d)", () => {
    const model = build();
    const slice = node(model, "/model/layers.0/self_attn/rotary_emb/Slice");
    // a non-persistent buffer traced as a constant: module-less, named after its consumer
    expect(slice.inputs[0]?.name).toMatch(/^onnx::Slice_\d+$/);
    const table = constantTensor(slice.inputs[0]?.producer());
    expect(table.dims).toEqual([tiny.positions, headDim]);
    const cos = table.toArray() as Float32Array;
    const position = 37;
    for (const i of [0, 3, 7]) {
      const angle = position * tiny.ropeTheta ** ((-2 * i) / headDim);
      expect(cos[position * headDim + i]).toBeCloseTo(Math.cos(angle), 5);
      expect(cos[position * headDim + headDim / 2 + i]).toBe(cos[position * headDim + i]);
    }
    // Every layer slices the same constant: the exporter merges the layers' identical buffers.
    const layer1 = node(model, "/model/layers.1/self_attn/rotary_emb/Slice");
    expect(layer1.inputs[0]).toBe(slice.inputs[0]);
  });

  it("rejects configs that cannot form a model, naming the key", () => {
    const attempt = (overrides: Partial<LlamaConfig>) => buildError(() => build(overrides));
    expect(attempt({ heads: 5 })).toMatch(/^ZOO_CONFIG_INVALID config key "heads"/);
    expect(attempt({ kvHeads: 3 })).toMatch(/^ZOO_CONFIG_INVALID config key "kvHeads"/);
    expect(attempt({ hidden: 72, heads: 8 })).toMatch(/"heads": the head size .* is odd/);
    expect(attempt({ layers: 1.5 })).toMatch(/"layers": must be an integer/);
    expect(attempt({ rmsEps: 0.1 })).toMatch(/"rmsEps"/);
  });

  it("documents every preset key and keeps the realistic presets consistent", () => {
    for (const [name, preset] of Object.entries(llama.presets)) {
      expect(Object.keys(preset).sort(), name).toEqual(Object.keys(llama.configKeys).sort());
      expect(() => llama.build({ ...preset, layers: 0 }, { seed: 1 })).toThrow(/layers/);
    }
    expect(llama.presets[llama.defaultPreset]).toBeDefined();
  });
});

describe("zoo llama graph shape (pinned to the exporter's pattern)", () => {
  const prefill = build();
  const withCache = build({ kvCache: true });

  it("writes one attention block op for op", () => {
    const ops = scopeOps(prefill, "/model/layers.0/self_attn/").filter((op) => op !== "Constant");
    // biome-ignore format: one row per line of the modeling code
    expect(ops).toEqual([
      // bsz, q_len = hidden_states.size(); q/k/v projections
      "Shape", "Gather", "Shape", "Gather", "MatMul", "MatMul", "MatMul",
      // .view(bsz, q_len, heads, head_dim).transpose(1, 2) for q, k, v
      "Unsqueeze", "Unsqueeze", "Concat", "Reshape", "Transpose",
      "Unsqueeze", "Unsqueeze", "Concat", "Reshape", "Transpose",
      "Unsqueeze", "Unsqueeze", "Concat", "Reshape", "Transpose",
      // kv_seq_len = key_states.shape[-2]
      "Shape", "Gather",
      // rotary_emb: cos_cached[:kv_seq_len].to(x.dtype), sin_cached[:kv_seq_len].to(x.dtype)
      "Unsqueeze", "Slice", "Cast", "Unsqueeze", "Slice", "Cast",
      // cos[position_ids].unsqueeze(1), sin[position_ids].unsqueeze(1)
      "Gather", "Unsqueeze", "Gather", "Unsqueeze",
      ...ROTARY_EMBED, // q * cos + rotate_half(q) * sin
      ...ROTARY_EMBED, // k * cos + rotate_half(k) * sin
      ...REPEAT_KV, // repeat_kv(key_states)
      ...REPEAT_KV, // repeat_kv(value_states)
      // softmax(q @ k.transpose(2, 3) / sqrt(head_dim) + mask, dtype=float32).to(q.dtype) @ v
      "Transpose", "MatMul", "Div", "Add", "Softmax", "Cast", "Cast", "MatMul",
      // .transpose(1, 2).reshape(bsz, q_len, hidden); o_proj
      "Transpose", "Unsqueeze", "Unsqueeze", "Concat", "Reshape", "MatMul",
    ]);
  });

  it("writes the cached block with its own past length and the past concatenated", () => {
    // kv_seq_len += past_key_value[0].shape[-2]: a Shape of its own, not the mask's
    const pastOf = (add: string) =>
      parentPath(node(withCache, add), ["Gather", "Shape"], [1, 0])[1];
    const layerPast = pastOf("/model/layers.0/self_attn/Add");
    const maskPast = pastOf("/model/Add"); // key_value_length = seq_length + past length
    expect(layerPast?.inputs[0]?.name).toBe("past_key_values.0.key");
    expect(maskPast?.inputs[0]?.name).toBe("past_key_values.0.key");
    expect(layerPast).not.toBe(maskPast);
    const keyConcat = node(withCache, "/model/layers.0/self_attn/Concat_5");
    expect(keyConcat.inputs[0]?.name).toBe("past_key_values.0.key");
    expect([keyConcat.getInt("axis"), keyConcat.outputs[0]?.name]).toEqual([2, "present.0.key"]);
  });

  it("writes the shared 4-D mask as transformers 4.35 traces it", () => {
    const ops = (model: Model) =>
      model.graph
        .nodes()
        .filter((n) => /^\/model\/[A-Za-z]+(_\d+)?$/.test(n.name) && n.opType !== "Constant")
        .map((n) => n.opType);
    // biome-ignore format: one row per line of the modeling code
    const mask = [
      "Shape", "Gather",                                        // to_4d: attention_mask_2d.shape[0]
      "Sub",                                                    // past = key_value_length - query_length
      "Unsqueeze", "Unsqueeze", "Concat", "ConstantOfShape",    // torch.full((tgt, tgt), min)
      "Shape", "Slice", "Squeeze", "Cast", "Range",             // torch.arange(mask.size(-1))
      "Add",                                                    // mask_cond + 1
      "Shape", "Slice", "Squeeze", "Unsqueeze", "Concat", "Reshape", // .view(mask.size(-1), 1)
      "Less", "Cast", "Where",                                  // mask.masked_fill_(· < ·, 0)
      "Cast",                                                   // mask.to(dtype)
      "Unsqueeze", "Unsqueeze", "Add", ...EXPAND_3,             // [None, None].expand(bsz, 1, tgt, tgt + past)
      "Shape", "Gather", "Shape", "Gather",                     // _expand_mask: bsz, src_len = mask.size()
      "Unsqueeze", "Unsqueeze", ...EXPAND_3,                    // mask[:, None, None, :].expand(bsz, 1, tgt, src)
      "Cast", "Sub", "Cast", "Cast", "Where",                   // .to(dtype); 1.0 - ·; masked_fill(·.to(bool), min)
      "Add",                                                    // expanded_attn_mask + causal_4d_mask
    ];
    // input_ids.shape[1]; key_value_length = seq + past (a Python 0 without a cache leaves no node)
    expect(ops(prefill)).toEqual(["Shape", "Gather", ...mask]);
    expect(ops(withCache)).toEqual(["Shape", "Gather", "Shape", "Gather", "Add", ...mask]);
  });

  it("writes size lists as the exporter does: literal Constants, module-less Unsqueeze axes", () => {
    // query_states.view(bsz, q_len, heads, head_dim): ListConstruct erased by the peephole
    const view = node(prefill, "/model/layers.0/self_attn/Concat");
    const [bsz, qLen, heads, dim] = view.inputs.map((v) => v?.producer()) as Node[];
    for (const traced of [bsz, qLen]) {
      expect(traced?.opType).toBe("Unsqueeze");
      expect(traced?.inputs[1]?.name).toMatch(/^onnx::Unsqueeze_\d+$/);
      expect(traced?.inputs[1]?.producer()?.name).toMatch(/^Constant_\d+$/);
    }
    expect([heads?.opType, ...constantTensor(heads).toArray()]).toEqual(["Constant", 4n]);
    expect(heads?.name).toMatch(/^\/model\/layers\.0\/self_attn\/Constant_\d+$/);
    expect([...constantTensor(dim).toArray()]).toEqual([BigInt(headDim)]);
    // repeat_kv's expand stacks its sizes in the symbolic: the module's axes, n_rep a Constant
    const where = node(prefill, "/model/layers.0/self_attn/Where");
    const stack = where.inputs[2]?.producer()?.inputs[0]?.producer() as Node;
    expect(stack.opType).toBe("Concat");
    const nRep = stack.inputs[2]?.producer();
    expect([nRep?.opType, ...constantTensor(nRep).toArray()]).toEqual(["Constant", 2n]);
    expect(stack.inputs[0]?.producer()?.inputs[1]?.producer()?.name).toMatch(
      /^\/model\/layers\.0\/self_attn\/Constant_\d+$/,
    );
    // one Shape per size call: rotate_half reads x.shape[-1] for x2's start and x1's end
    const embed = node(prefill, "/model/layers.0/self_attn/Add");
    const half = ["Unsqueeze", "Cast", "Cast", "Div", "Gather", "Shape"];
    const x2 = parentPath(
      embed,
      ["Mul", "Concat", "Neg", "Slice", ...half],
      [1, 0, 0, 0, 1, 0, 0, 0, 0, 0],
    );
    const x1 = parentPath(embed, ["Mul", "Concat", "Slice", ...half], [1, 0, 1, 2, 0, 0, 0, 0, 0]);
    const [shape2, shape1] = [x2.at(-1), x1.at(-1)];
    expect(shape2).not.toBe(shape1);
    expect(shape2?.inputs[0]).toBe(shape1?.inputs[0]);
  });

  it("writes RMSNorm out as the exporter does, casts included", () => {
    // biome-ignore format: the ops of one line of modeling code
    expect(scopeOps(prefill, "/model/layers.0/input_layernorm/")).toEqual([
      "Cast", "Constant", "Pow", "ReduceMean", "Constant", "Add", "Sqrt", "Constant", "Div", "Mul",
      "Cast", "Mul",
    ]);
    const reduce = node(prefill, "/model/layers.0/input_layernorm/ReduceMean");
    expect([reduce.getInts("axes"), reduce.getInt("keepdims")]).toEqual([[-1], 1]);
    const exponent = constantTensor(node(prefill, "/model/layers.0/input_layernorm/Constant"));
    expect([exponent.dataType, exponent.dims, exponent.toArray()[0]]).toEqual([
      DataType.FLOAT,
      [],
      2,
    ]);
    // the casts are to the type the value already has, as the exporter keeps them in fp32
    const upcast = node(prefill, "/model/layers.0/input_layernorm/Cast");
    expect(elementType(upcast.inputs[0] as NonNullable<Node["inputs"][number]>)).toBe(
      DataType.FLOAT,
    );
  });

  it("matches the paths onnxruntime's LLaMA fusions look for, once same-type casts are gone", () => {
    // onnxruntime's optimizer runs remove_useless_cast_nodes before any fusion
    const skipUselessCasts = { skipUselessCasts: true };
    const path = (start: Node, types: readonly string[], indices: readonly number[]) =>
      parentPath(start, types, indices, skipUselessCasts);
    const oProj = node(withCache, "/model/layers.0/self_attn/o_proj/MatMul");
    const residual = node(withCache, "/model/layers.0/Add");
    // fusion_rotary_attention.py, qkv_nodes_2: Add ← MatMul ← Reshape ← Transpose ← MatMul
    const qkv = path(residual, ["MatMul", "Reshape", "Transpose", "MatMul"], [1, 0, 0, 0]);
    expect(qkv[0]).toBe(oProj);
    const matmulQkv = qkv[3] as Node;
    // v_nodes_4 (LLaMA-2 70B, grouped-query): repeat_kv after the past Concat
    for (const [types, indices] of V_PATHS_GQA) path(matmulQkv, types, indices);
    // qk_nodes and attn_mask_nodes_3 (HF 2-D attention_mask, 4.3x mask)
    const [, addQk] = path(matmulQkv, ["Softmax", "Add", "Div", "MatMul"], [0, 0, 0, 0]);
    path(
      addQk as Node,
      ["Add", "Where", "Sub", "Cast", "Expand", "Unsqueeze", "Unsqueeze"],
      [1, 0, 2, 1, 0, 0, 0],
    );
    // FusionRotaryEmbeddings: rotate_half and cos/sin sliced by past + current length
    const qEmbed = node(withCache, "/model/layers.0/self_attn/Add_1");
    path(qEmbed, ["Mul", "Concat", "Neg", "Slice", "Transpose"], [1, 0, 0, 0, 0]);
    path(
      qEmbed,
      ["Mul", "Concat", "Neg", "Slice", "Unsqueeze", "Div", "Gather", "Shape", "Transpose"],
      [1, 0, 0, 0, 1, 0, 0, 0, 0],
    );
    path(qEmbed, ["Mul", "Concat", "Slice", "Transpose"], [1, 0, 1, 0]);
    path(
      qEmbed,
      ["Mul", "Concat", "Slice", "Unsqueeze", "Div", "Gather", "Shape", "Transpose"],
      [1, 0, 1, 2, 0, 0, 0, 0],
    );
    path(qEmbed, ["Mul", "Transpose"], [0, 0]);
    for (const mul of [0, 1]) {
      const cosSin = path(
        qEmbed,
        ["Mul", "Unsqueeze", "Gather", "Slice", "Unsqueeze", "Add"],
        [mul, 1, 0, 0, 2, 0],
      );
      expect(cosSin[2]?.inputs[1]?.name).toBe("position_ids");
      const add = cosSin[5] as Node;
      const [, pastShape] = path(add, ["Gather", "Shape"], [1, 0]);
      expect(pastShape?.inputs[0]?.name).toBe("past_key_values.0.key");
      path(add, ["Gather", "Shape", "Transpose"], [0, 0, 0]);
    }
    // fusion_simplified_layernorm.py sim_ln_nodes_1 (residual Add) and _2 (embedding Gather)
    const postNorm = node(withCache, "/model/layers.0/post_attention_layernorm/Mul_1");
    const simplified = ["Mul", "Div", "Sqrt", "Add", "ReduceMean", "Pow"];
    path(postNorm, [...simplified, "Add"], [1, 1, 1, 0, 0, 0, 0]);
    const inputNorm = node(withCache, "/model/layers.0/input_layernorm/Mul_1");
    path(inputNorm, [...simplified, "Gather"], [1, 1, 1, 0, 0, 0, 0]);
    expect(inputNorm.inputs[0]?.name).toBe("model.layers.0.input_layernorm.weight");
    // Not vacuous: without the cleanup the casts stand in the way.
    expect(() => parentPath(inputNorm, ["Mul"], [1])).toThrow();
  });
});

// Op groups of the attention block and the mask, as the symbolics write them.
// biome-ignore format: one row per line of modeling code
const ROTATE_HALF_SLICE = [
  "Shape", "Gather", "Div", "Cast", "Cast",  // x.shape[-1] // 2 (floor_divide: Div, two casts)
  "Unsqueeze", "Slice",                      // x[..., :half] or x[..., half:]
];
// biome-ignore format: one row per line of modeling code
const ROTARY_EMBED = [
  "Mul",                                     // x * cos
  ...ROTATE_HALF_SLICE, ...ROTATE_HALF_SLICE, "Neg", "Concat", // rotate_half(x)
  "Mul", "Add",                              // · * sin, +
];
// biome-ignore format: one row per line of modeling code
const EXPAND_3 = [
  "Unsqueeze", "Unsqueeze", "Unsqueeze", "Concat", "Reshape", // stack the traced sizes (the 1 is a Constant)
  "Shape", "ConstantOfShape", "Mul", "Equal", "Where", "Expand", // the -1 → 1 mapping
];
// biome-ignore format: one row per line of modeling code
const REPEAT_KV = [
  "Shape", "Gather", "Shape", "Gather", "Shape", "Gather", "Shape", "Gather", // x.shape
  "Unsqueeze",                                                              // x[:, :, None]
  "Unsqueeze", "Unsqueeze", "Unsqueeze", "Unsqueeze", "Concat", "Reshape",    // .expand(b, kv, n_rep, s, d)
  "Shape", "ConstantOfShape", "Mul", "Equal", "Where", "Expand",
  "Mul", "Unsqueeze", "Unsqueeze", "Unsqueeze", "Unsqueeze", "Concat", "Reshape", // .reshape(b, kv * n_rep, s, d)
];

/** fusion_rotary_attention.py's v_nodes_4 paths from MatMul(probs, V). */
// biome-ignore format: one path per row, as in the matcher
const V_PATHS_GQA: [string[], number[]][] = [
  [["Reshape", "Expand", "Unsqueeze", "Concat", "Transpose", "Reshape", "MatMul"],
    [1, 0, 0, 0, 1, 0, 0]],
  [["Reshape", "Expand", "Where", "Equal", "Reshape", "Concat", "Unsqueeze", "Gather", "Shape",
    "Concat", "Transpose", "Reshape", "MatMul"],
    [1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]],
  [["Reshape", "Expand", "Where", "Equal", "Mul", "ConstantOfShape", "Shape", "Reshape", "Concat",
    "Unsqueeze", "Gather", "Shape", "Concat", "Transpose", "Reshape", "MatMul"],
    [1, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0]],
  [["Reshape", "Expand", "Where", "ConstantOfShape", "Shape", "Reshape", "Concat", "Unsqueeze",
    "Gather", "Shape", "Concat", "Transpose", "Reshape", "MatMul"],
    [1, 0, 1, 1, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0]],
  [["Reshape", "Expand", "Where", "Reshape", "Concat", "Unsqueeze", "Gather", "Shape", "Concat",
    "Transpose", "Reshape", "MatMul"],
    [1, 0, 1, 2, 0, 4, 0, 0, 0, 1, 0, 0]],
  [["Reshape", "Concat", "Unsqueeze", "Gather", "Shape", "Concat", "Transpose", "Reshape", "MatMul"],
    [1, 1, 0, 0, 0, 0, 1, 0, 0]],
  [["Reshape", "Concat", "Unsqueeze", "Mul", "Gather", "Shape", "Concat", "Transpose", "Reshape",
    "MatMul"],
    [1, 1, 1, 0, 0, 0, 0, 1, 0, 0]],
  [["Reshape", "Concat", "Unsqueeze", "Gather", "Shape", "Concat", "Transpose", "Reshape", "MatMul"],
    [1, 1, 2, 0, 0, 0, 1, 0, 0]],
  [["Reshape", "Concat", "Unsqueeze", "Gather", "Shape", "Concat", "Transpose", "Reshape", "MatMul"],
    [1, 1, 3, 0, 0, 0, 1, 0, 0]],
];
