import { createRequire } from "node:module";
import { DataType, encodeModel, isLatheError, type Model, type Node, Tensor } from "@lathe/core";
import { beforeAll, describe, expect, it } from "vitest";
import { llama } from "../src/models/llama.js";
import type { LlamaConfig } from "../src/models/llama-config.js";

// The zoo does not depend on onnxruntime-node; @lathe/core does, so resolve it from there.
const ort = createRequire(new URL("../../../core/package.json", import.meta.url))(
  "onnxruntime-node",
) as Ort;

interface OrtTensor {
  readonly dims: readonly number[];
  readonly data: Float32Array | BigInt64Array;
}
interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
}
interface Ort {
  InferenceSession: { create(model: Uint8Array): Promise<OrtSession> };
  Tensor: new (
    type: "int64" | "float32",
    data: BigInt64Array | Float32Array,
    dims: readonly number[],
  ) => OrtTensor;
}

const tiny = llama.presets.tiny;
const { layers, kvHeads, vocab } = tiny;
const headDim = tiny.hidden / tiny.heads;
const SEED = 7;

function build(overrides: Partial<LlamaConfig> = {}, seed = SEED): Model {
  const model = llama.build({ ...tiny, ...overrides }, { seed }).components.get("model");
  if (!model) throw new Error("the llama bundle has no `model` component");
  return model;
}

const int64 = (rows: readonly (readonly number[])[]) =>
  new ort.Tensor("int64", BigInt64Array.from(rows.flat(), BigInt), [
    rows.length,
    rows[0]?.length ?? 0,
  ]);
const ones = (batch: number, length: number) =>
  Array.from({ length: batch }, () => Array<number>(length).fill(1));
const arange = (batch: number, from: number, length: number) =>
  Array.from({ length: batch }, () => Array.from({ length }, (_, i) => from + i));

/** `present.0.key`, `present.0.value`, … (or the `past_key_values` names) for every layer. */
const cacheNames = (prefix: string) =>
  Array.from({ length: layers }, (_, i) => [`${prefix}.${i}.key`, `${prefix}.${i}.value`]).flat();

/** Logits of the last position of each row, [batch][vocab]. */
function lastLogits(logits: OrtTensor): Float32Array[] {
  const [batch = 0, length = 0] = logits.dims;
  const data = logits.data as Float32Array;
  return Array.from({ length: batch }, (_, b) =>
    data.slice(((b + 1) * length - 1) * vocab, (b + 1) * length * vocab),
  );
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return max;
}

function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] ?? 0) > (values[best] ?? 0)) best = i;
  return best;
}

describe("zoo llama", () => {
  let prefill: OrtSession;
  let cached: OrtSession;

  beforeAll(async () => {
    prefill = await ort.InferenceSession.create(encodeModel(build()));
    cached = await ort.InferenceSession.create(encodeModel(build({ kvCache: true })));
  });

  const runPrefill = async (ids: number[][], positions?: number[][], mask?: number[][]) => {
    const [batch, length] = [ids.length, ids[0]?.length ?? 0];
    const out = await prefill.run({
      input_ids: int64(ids),
      attention_mask: int64(mask ?? ones(batch, length)),
      position_ids: int64(positions ?? arange(batch, 0, length)),
    });
    return out.logits as OrtTensor;
  };

  it("builds tiny with the exporter's inputs, outputs, names and opset", () => {
    const model = build();
    expect(model.opset()).toBe(14);
    expect(model.irVersion).toBe(8);
    expect([model.producerName, model.producerVersion]).toEqual(["pytorch", "2.0.1"]);
    expect(model.graph.inputs.map((v) => v.name)).toEqual([
      "input_ids",
      "attention_mask",
      "position_ids",
    ]);
    expect(model.graph.outputs.map((v) => v.name)).toEqual(["logits"]);
    const initializers = [...model.graph.initializers.keys()];
    expect(initializers).toContain("model.embed_tokens.weight");
    expect(initializers).toContain("model.layers.1.post_attention_layernorm.weight");
    expect(initializers).toContain("model.norm.weight");
    // Linear weights are the folded W.T, [in, out], under the exporter's onnx::MatMul_* names.
    const q = model.graph.nodes().find((n) => n.name === "/model/layers.0/self_attn/q_proj/MatMul");
    expect(q?.inputs[1]?.name).toMatch(/^onnx::MatMul_\d+$/);
    expect(q?.inputs[1]?.constValue?.dims).toEqual([64, 64]);

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
    const past = withCache.graph.inputs[3]?.type;
    expect(past?.kind === "tensor" && past.shape?.dims).toEqual([
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
    const logits = await runPrefill(ids);
    expect(logits.dims).toEqual([2, 5, vocab]);
    const data = logits.data as Float32Array;
    expect(data.every(Number.isFinite)).toBe(true);
    expect(maxAbsDiff(data.subarray(0, vocab), data.subarray(vocab, 2 * vocab))).toBeGreaterThan(
      1e-3,
    );

    const empty = new ort.Tensor("float32", new Float32Array(0), [2, kvHeads, 0, headDim]);
    const feeds: Record<string, OrtTensor> = {
      input_ids: int64(ids),
      attention_mask: int64(ones(2, 5)),
      position_ids: int64(arange(2, 0, 5)),
    };
    for (const name of cacheNames("past_key_values")) feeds[name] = empty;
    const out = await cached.run(feeds);
    expect(out.logits?.dims).toEqual([2, 5, vocab]);
    expect(out["present.1.value"]?.dims).toEqual([2, kvHeads, 5, headDim]);
  });

  it("is causal: a later token never changes earlier logits", async () => {
    const a = [[3, 14, 15, 92, 65, 35]];
    const b = [[3, 14, 15, 92, 700, 35]];
    const [la, lb] = [await runPrefill(a), await runPrefill(b)];
    const [da, db] = [la.data as Float32Array, lb.data as Float32Array];
    expect(maxAbsDiff(da.subarray(0, 4 * vocab), db.subarray(0, 4 * vocab))).toBeLessThan(1e-6);
    expect(maxAbsDiff(da.subarray(4 * vocab), db.subarray(4 * vocab))).toBeGreaterThan(1e-3);
  });

  it("masks left padding: a padded row's last logits equal the unpadded row's", async () => {
    const prompt = [11, 22, 33, 44];
    const padded = [
      [500, 501, ...prompt],
      [7, 8, 9, 10, 11, 12],
    ];
    const mask = [
      [0, 0, 1, 1, 1, 1],
      [1, 1, 1, 1, 1, 1],
    ];
    // transformers' generate: position_ids = cumsum(mask) - 1, with 1 at padded positions
    const positions = [
      [1, 1, 0, 1, 2, 3],
      [0, 1, 2, 3, 4, 5],
    ];
    const [paddedLast] = lastLogits(await runPrefill(padded, positions, mask));
    const [alone] = lastLogits(await runPrefill([prompt]));
    expect(maxAbsDiff(paddedLast ?? [], alone ?? [])).toBeLessThan(1e-4);

    // Not vacuous: attending to the pad tokens changes the answer.
    const [unmasked] = lastLogits(await runPrefill(padded, positions));
    expect(maxAbsDiff(unmasked ?? [], alone ?? [])).toBeGreaterThan(1e-3);
  });

  it("agrees with itself through the KV cache: greedy decode of 8 tokens", async () => {
    const prompts = [
      [1, 450, 499, 17, 203],
      [1, 9, 88, 777, 31],
    ];
    const steps = 8;

    const reference = prompts.map((p) => [...p]);
    const referenceLogits: Float32Array[][] = [];
    for (let step = 0; step < steps; step++) {
      const last = lastLogits(await runPrefill(reference));
      referenceLogits.push(last);
      last.forEach((row, b) => {
        reference[b]?.push(argmax(row));
      });
    }

    // The cached model: the prompt with empty pasts, then one token per step.
    const tokens = prompts.map((p) => [...p]);
    const batch = prompts.length;
    let past: Record<string, OrtTensor> = {};
    const empty = new ort.Tensor("float32", new Float32Array(0), [batch, kvHeads, 0, headDim]);
    for (const name of cacheNames("past_key_values")) past[name] = empty;
    let newIds = prompts;
    for (let step = 0; step < steps; step++) {
      const total = tokens[0]?.length ?? 0;
      const pastLength = total - (newIds[0]?.length ?? 0);
      const out = await cached.run({
        input_ids: int64(newIds),
        attention_mask: int64(ones(batch, total)),
        position_ids: int64(arange(batch, pastLength, total - pastLength)),
        ...past,
      });
      lastLogits(out.logits as OrtTensor).forEach((row, b) => {
        expect(maxAbsDiff(row, referenceLogits[step]?.[b] ?? [])).toBeLessThan(1e-4);
        tokens[b]?.push(argmax(row));
      });
      past = {};
      for (const name of cacheNames("present")) {
        const present = out[name] as OrtTensor;
        expect(present.dims).toEqual([batch, kvHeads, total, headDim]);
        past[name.replace("present", "past_key_values")] = present;
      }
      newIds = tokens.map((t) => [t[t.length - 1] ?? 0]);
    }
    expect(tokens).toEqual(reference);
  });

  it("is deterministic from the seed", () => {
    const first = encodeModel(build());
    expect(Buffer.from(encodeModel(build())).equals(Buffer.from(first))).toBe(true);
    expect(Buffer.from(encodeModel(build({}, SEED + 1))).equals(Buffer.from(first))).toBe(false);
  });

  it("plants outlier channels in every layer's RMSNorm weights", () => {
    const bundle = llama.build({ ...tiny, outliers: 3 }, { seed: SEED });
    const channels = bundle.metadata.outlierChannels as number[];
    expect(channels).toHaveLength(3);
    const model = bundle.components.get("model") as Model;
    for (let i = 0; i < layers; i++) {
      for (const norm of ["input_layernorm", "post_attention_layernorm"]) {
        const weight = floats(model, `model.layers.${i}.${norm}.weight`);
        const large = [...weight.keys()].filter((c) => (weight[c] ?? 0) > 10);
        expect(large).toEqual(channels);
      }
    }
    expect(floats(model, "model.norm.weight").every((w) => w === 1)).toBe(true);
  });

  it("writes the rotary caches as cos/sin of position × rope_theta^(-2i/d)", () => {
    const model = build();
    const slice = node(model, "/model/layers.0/self_attn/rotary_emb/Slice");
    const constant = slice.inputs[0]?.producer();
    expect(constant?.opType).toBe("Constant");
    const table = constant?.attribute("value")?.value as Tensor;
    expect(table.dims).toEqual([tiny.positions, headDim]);
    const cos = table.toArray() as Float32Array;
    const position = 37;
    for (const i of [0, 3, 7]) {
      const angle = position * tiny.ropeTheta ** ((-2 * i) / headDim);
      expect(cos[position * headDim + i]).toBeCloseTo(Math.cos(angle), 5);
      expect(cos[position * headDim + headDim / 2 + i]).toBe(cos[position * headDim + i]);
    }
    // Every layer slices the same shared constant, as the exporter's CSE leaves it.
    const layer1 = node(model, "/model/layers.1/self_attn/rotary_emb/Slice");
    expect(layer1.inputs[0]).toBe(slice.inputs[0]);
  });

  it("rejects configs that cannot form a model, naming the key", () => {
    const attempt = (overrides: Partial<LlamaConfig>) => {
      try {
        build(overrides);
      } catch (error) {
        return isLatheError(error) ? `${error.code} ${error.message}` : String(error);
      }
      return "built";
    };
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
      // kv_seq_len = key_states.shape[-2]; rotary_emb: cos_cached[:kv_seq_len], sin_cached[:kv_seq_len]
      "Shape", "Gather", "Unsqueeze", "Slice", "Unsqueeze", "Slice",
      // cos[position_ids].unsqueeze(1), sin[position_ids].unsqueeze(1)
      "Gather", "Unsqueeze", "Gather", "Unsqueeze",
      // q * cos + rotate_half(q) * sin
      "Mul", "Shape", "Gather", "Div", "Unsqueeze", "Slice", "Unsqueeze", "Slice", "Neg", "Concat",
      "Mul", "Add",
      // k * cos + rotate_half(k) * sin
      "Mul", "Shape", "Gather", "Div", "Unsqueeze", "Slice", "Unsqueeze", "Slice", "Neg", "Concat",
      "Mul", "Add",
      // repeat_kv(key_states): shape, [:, :, None], expand (opset-9 symbolic), reshape
      "Shape", "Gather", "Shape", "Gather", "Shape", "Gather", "Shape", "Gather", "Unsqueeze",
      "Unsqueeze", "Unsqueeze", "Unsqueeze", "Unsqueeze", "Concat", "Reshape",
      "Shape", "ConstantOfShape", "Mul", "Equal", "Where", "Expand",
      "Mul", "Unsqueeze", "Unsqueeze", "Unsqueeze", "Unsqueeze", "Concat", "Reshape",
      // repeat_kv(value_states)
      "Shape", "Gather", "Shape", "Gather", "Shape", "Gather", "Shape", "Gather", "Unsqueeze",
      "Unsqueeze", "Unsqueeze", "Unsqueeze", "Unsqueeze", "Concat", "Reshape",
      "Shape", "ConstantOfShape", "Mul", "Equal", "Where", "Expand",
      "Mul", "Unsqueeze", "Unsqueeze", "Unsqueeze", "Unsqueeze", "Concat", "Reshape",
      // softmax(q @ k.transpose(2, 3) / sqrt(head_dim) + mask) @ v
      "Transpose", "MatMul", "Div", "Add", "Softmax", "MatMul",
      // .transpose(1, 2).reshape(bsz, q_len, hidden); o_proj
      "Transpose", "Unsqueeze", "Unsqueeze", "Concat", "Reshape", "MatMul",
    ]);
  });

  it("writes RMSNorm out as the exporter does", () => {
    // biome-ignore format: the ops of one line of modeling code
    expect(scopeOps(prefill, "/model/layers.0/input_layernorm/")).toEqual([
      "Pow", "ReduceMean", "Constant", "Add", "Sqrt", "Constant", "Div", "Mul", "Mul",
    ]);
    const reduce = node(prefill, "/model/layers.0/input_layernorm/ReduceMean");
    expect([reduce.getInts("axes"), reduce.getInt("keepdims")]).toEqual([[-1], 1]);
  });

  it("matches the paths onnxruntime's LLaMA fusions look for", () => {
    const oProj = node(withCache, "/model/layers.0/self_attn/o_proj/MatMul");
    const residual = node(withCache, "/model/layers.0/Add");
    // fusion_rotary_attention.py, qkv_nodes_2: Add ← MatMul ← Reshape ← Transpose ← MatMul
    const qkv = parentPath(residual, ["MatMul", "Reshape", "Transpose", "MatMul"], [1, 0, 0, 0]);
    expect(qkv[0]).toBe(oProj);
    const matmulQkv = qkv[3] as Node;
    // v_nodes_4 (LLaMA-2 70B, grouped-query): repeat_kv after the past Concat
    for (const [types, indices] of V_PATHS_GQA) parentPath(matmulQkv, types, indices);
    // qk_nodes and attn_mask_nodes_3 (HF 2-D attention_mask, 4.3x mask)
    const [, addQk] = parentPath(matmulQkv, ["Softmax", "Add", "Div", "MatMul"], [0, 0, 0, 0]);
    parentPath(
      addQk as Node,
      ["Add", "Where", "Sub", "Cast", "Expand", "Unsqueeze", "Unsqueeze"],
      [1, 0, 2, 1, 0, 0, 0],
    );
    // FusionRotaryEmbeddings: rotate_half and cos/sin sliced by past + current length
    const qEmbed = node(withCache, "/model/layers.0/self_attn/Add_1");
    parentPath(qEmbed, ["Mul", "Concat", "Neg", "Slice", "Transpose"], [1, 0, 0, 0, 0]);
    parentPath(
      qEmbed,
      ["Mul", "Concat", "Neg", "Slice", "Unsqueeze", "Div", "Gather", "Shape", "Transpose"],
      [1, 0, 0, 0, 1, 0, 0, 0, 0],
    );
    parentPath(qEmbed, ["Mul", "Concat", "Slice", "Transpose"], [1, 0, 1, 0]);
    parentPath(
      qEmbed,
      ["Mul", "Concat", "Slice", "Unsqueeze", "Div", "Gather", "Shape", "Transpose"],
      [1, 0, 1, 2, 0, 0, 0, 0],
    );
    parentPath(qEmbed, ["Mul", "Transpose"], [0, 0]);
    for (const mul of [0, 1]) {
      const path = parentPath(
        qEmbed,
        ["Mul", "Unsqueeze", "Gather", "Slice", "Unsqueeze", "Add"],
        [mul, 1, 0, 0, 2, 0],
      );
      expect(path[2]?.inputs[1]?.name).toBe("position_ids");
      const add = path[5] as Node;
      const [, pastShape] = parentPath(add, ["Gather", "Shape"], [1, 0]);
      expect(pastShape?.inputs[0]?.name).toBe("past_key_values.0.key");
      parentPath(add, ["Gather", "Shape", "Transpose"], [0, 0, 0]);
    }
    // fusion_simplified_layernorm.py sim_ln_nodes_1 (residual Add) and _2 (embedding Gather)
    const postNorm = node(withCache, "/model/layers.0/post_attention_layernorm/Mul_1");
    const simplified = ["Mul", "Div", "Sqrt", "Add", "ReduceMean", "Pow"];
    parentPath(postNorm, [...simplified, "Add"], [1, 1, 1, 0, 0, 0, 0]);
    const inputNorm = node(withCache, "/model/layers.0/input_layernorm/Mul_1");
    parentPath(inputNorm, [...simplified, "Gather"], [1, 1, 1, 0, 0, 0, 0]);
    expect(inputNorm.inputs[0]?.name).toBe("model.layers.0.input_layernorm.weight");
  });
});

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

/** onnxruntime's `match_parent_path`: follows input `indices[i]` and expects `types[i]`. */
function parentPath(start: Node, types: readonly string[], indices: readonly number[]): Node[] {
  const path: Node[] = [];
  let current = start;
  types.forEach((type, i) => {
    const parent = current.inputs[indices[i] ?? 0]?.producer();
    expect(parent?.opType, `${types.slice(0, i + 1).join(" ← ")} from ${start.name}`).toBe(type);
    current = parent as Node;
    path.push(current);
  });
  return path;
}

/** Op types of the nodes under a module path (its submodules included), in graph order. */
function scopeOps(model: Model, scope: string): string[] {
  return model.graph
    .nodes()
    .filter((n) => n.name.startsWith(scope))
    .map((n) => n.opType);
}

function node(model: Model, name: string): Node {
  const found = model.graph.nodes().find((n) => n.name === name);
  if (!found) throw new Error(`no node ${name}`);
  return found;
}

function floats(model: Model, initializer: string): Float32Array {
  const tensor = model.graph.initializers.get(initializer)?.constValue;
  if (!(tensor instanceof Tensor) || tensor.dataType !== DataType.FLOAT)
    throw new Error(`no float initializer ${initializer}`);
  return tensor.toArray() as Float32Array;
}
