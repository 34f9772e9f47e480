import {
  DataType,
  encodeModel,
  isLatheError,
  type Model,
  type Node,
  SeededRandom,
  Tensor,
  tensorType,
  type Value,
} from "@lathe/core";
import { float32Tensor, floatOutput, maxAbsDiff, openOrtSession } from "@lathe/core/testing";
import type * as ort from "onnxruntime-node";
import { beforeAll, describe, expect, it } from "vitest";
import { unet } from "../src/models/unet.js";
import { type UnetConfig, unetDims } from "../src/models/unet-config.js";
import { parameterCount, unetStateDict } from "../src/models/unet-state-dict.js";
import { floats } from "./helpers/graph.js";

const tiny = unet.presets.tiny;
const SEED = 5;
const CONTEXT = tiny.contextDim;
const SEQUENCE = 7;

function build(overrides: Partial<UnetConfig> = {}, seed = SEED): Model {
  const model = unet.build({ ...tiny, ...overrides }, { seed }).components.get("unet");
  if (!model) throw new Error("the unet bundle has no `unet` component");
  return model;
}

interface Inputs {
  sample: Float32Array;
  context: Float32Array;
  timesteps: number[];
  batch: number;
  height: number;
  width: number;
}

/** Gaussian latents and text states, as a pipeline feeds them. */
function inputs(batch: number, height: number, width: number, seed = 1): Inputs {
  const rng = new SeededRandom(seed);
  return {
    sample: rng.normals(batch * 4 * height * width),
    context: rng.normals(batch * SEQUENCE * CONTEXT),
    timesteps: Array.from({ length: batch }, (_, i) => 999 - 250 * i),
    batch,
    height,
    width,
  };
}

function feeds(x: Inputs): Record<string, ort.Tensor> {
  return {
    sample: float32Tensor(x.sample, [x.batch, 4, x.height, x.width]),
    timestep: float32Tensor(Float32Array.from(x.timesteps), [x.timesteps.length]),
    encoder_hidden_states: float32Tensor(x.context, [x.batch, SEQUENCE, CONTEXT]),
  };
}

async function predict(
  session: ort.InferenceSession,
  x: Inputs,
): Promise<{ dims: readonly number[]; data: Float32Array }> {
  const out = await session.run(feeds(x));
  return { dims: out.out_sample!.dims, data: floatOutput(out, "out_sample") };
}

describe("zoo unet", () => {
  let session: ort.InferenceSession;

  beforeAll(async () => {
    session = await openOrtSession(build());
  });

  it("builds tiny with Optimum's inputs and outputs and the exporter's names and opset", () => {
    const bundle = unet.build(tiny, { seed: SEED });
    expect([...bundle.components.keys()]).toEqual(["unet"]);
    expect(bundle.metadata.parameters).toBe(792_964);
    const model = bundle.components.get("unet") as Model;
    expect(model.opset()).toBe(14);
    expect([...model.opsetImports.keys()]).toEqual([""]);
    expect(model.irVersion).toBe(7);
    expect([model.producerName, model.producerVersion]).toEqual(["pytorch", "2.1.2"]);
    expect(model.graph.name).toBe("main_graph");
    const io = (values: readonly Value[]) => values.map((v) => [v.name, dimsOf(v.type)]);
    expect(io(model.graph.inputs)).toEqual([
      ["sample", ["batch_size", 4, "height", "width"]],
      ["timestep", ["steps"]],
      ["encoder_hidden_states", ["batch_size", "sequence_length", CONTEXT]],
    ]);
    expect(io(model.graph.outputs)).toEqual([["out_sample", ["batch_size", 4, "height", "width"]]]);
    expect(node(model, "/conv_out/Conv").outputs[0]?.name).toBe("out_sample");

    // Parameters used as stored keep their state-dict names, in state-dict order; what constant
    // folding produced (W.T of the 3-d Linears, GroupNorm's [C, 1, 1] affine) follows.
    const names = [...model.graph.initializers.keys()];
    expect(names.slice(0, 8)).toEqual([
      "conv_in.weight",
      "conv_in.bias",
      "time_embedding.linear_1.weight",
      "time_embedding.linear_1.bias",
      "time_embedding.linear_2.weight",
      "time_embedding.linear_2.bias",
      "down_blocks.0.attentions.0.proj_in.weight",
      "down_blocks.0.attentions.0.proj_in.bias",
    ]);
    const firstFolded = names.findIndex((n) => n.startsWith("onnx::"));
    expect(names.slice(firstFolded).every((n) => /^onnx::(MatMul|Mul|Add)_\d+$/.test(n))).toBe(
      true,
    );
    expect(names.some((n) => n.endsWith("norm1.weight") && n.includes("resnets"))).toBe(false);
    const folded = (op: string) => names.filter((n) => n.startsWith(`onnx::${op}_`)).length;
    // 4 transformers × 2 attentions × 4 projections + 2 feed-forward Linears each
    expect(folded("MatMul")).toBe(4 * 10);
    // GroupNorms: 8 ResNets × 2, 4 transformers, conv_norm_out
    expect([folded("Mul"), folded("Add")]).toEqual([21, 21]);
    expect(names).toHaveLength(208); // one per state-dict entry, folded or not

    const toK = node(model, "/down_blocks.0/attentions.0/transformer_blocks.0/attn2/to_k/MatMul");
    expect(toK.inputs[0]?.name).toBe("encoder_hidden_states");
    expect(toK.inputs[1]?.constValue?.dims).toEqual([CONTEXT, 32]); // W.T: [in, out]
    const scale = node(model, "/down_blocks.1/resnets.0/norm1/Mul").inputs[1];
    expect(scale?.constValue?.dims).toEqual([32, 1, 1]);
  });

  it("has SD 1.5's exact parameter count in the sd15 preset, and small's", () => {
    const count = (preset: string) => {
      const config = unet.presets[preset];
      if (!config) throw new Error(`unet has no ${preset} preset`);
      const entries = unetStateDict(unetDims(config));
      return [parameterCount(entries), entries.length];
    };
    // runwayml/stable-diffusion-v1-5 unet/diffusion_pytorch_model: 686 tensors, 859,520,964 values
    expect(count("sd15")).toEqual([859_520_964, 686]);
    expect(count("small")).toEqual([141_735_684, 494]);
  });

  it("runs on ONNX Runtime with batch 2 at several spatial sizes", async () => {
    for (const [height, width] of [
      [8, 8],
      [16, 16],
      [16, 24],
    ] as const) {
      const out = await predict(session, inputs(2, height, width));
      expect(out.dims).toEqual([2, 4, height, width]);
      expect(out.data.every(Number.isFinite)).toBe(true);
      expect(rms(out.data)).toBeGreaterThan(0.05);
    }
  });

  it("broadcasts one timestep over the batch and keeps the batch rows independent", async () => {
    const pair = inputs(2, 8, 8);
    pair.timesteps = [400, 400];
    const both = await predict(session, pair);
    const [r0, r1] = [both.data.subarray(0, 256), both.data.subarray(256)];
    expect(maxAbsDiff(r0, r1)).toBeGreaterThan(1e-2); // different latents, different noise

    // Optimum's pipeline feeds the step as a [1] tensor; `expand` broadcasts it.
    const single = await session.run({
      ...feeds(pair),
      timestep: float32Tensor(Float32Array.of(400), [1]),
    });
    expect(maxAbsDiff(floatOutput(single, "out_sample"), both.data)).toBe(0);

    const alone = await predict(session, {
      ...pair,
      batch: 1,
      sample: pair.sample.slice(256, 512),
      context: pair.context.slice(SEQUENCE * CONTEXT),
      timesteps: [400],
    });
    expect(maxAbsDiff(alone.data, r1)).toBeLessThan(1e-5);
  });

  it("predicts noise that depends on timestep, on encoder_hidden_states and on sample", async () => {
    const base = inputs(2, 8, 8);
    const reference = (await predict(session, base)).data;
    const changed = async (patch: Partial<Inputs>) =>
      maxAbsDiff((await predict(session, { ...base, ...patch })).data, reference);
    expect(await changed({})).toBe(0);
    expect(await changed({ timesteps: [10, 20] })).toBeGreaterThan(1e-2);
    // encoder_hidden_states reaches the output only through cross-attention (attn2)
    expect(await changed({ context: inputs(2, 8, 8, 2).context })).toBeGreaterThan(1e-3);
    const sample = base.sample.slice();
    sample[0] = (sample[0] ?? 0) + 1;
    expect(await changed({ sample })).toBeGreaterThan(1e-3);
  });

  it("is deterministic from the seed", () => {
    const first = Buffer.from(encodeModel(build()));
    expect(Buffer.from(encodeModel(build())).equals(first)).toBe(true);
    const other = build({}, SEED + 1);
    expect(Buffer.from(encodeModel(other)).equals(first)).toBe(false);
    expect(floats(other, "conv_in.weight")).not.toEqual(floats(build(), "conv_in.weight"));
  });

  it("draws weights at torch's default initialisation", () => {
    const model = build();
    // kaiming_uniform_(a=√5): U(±1/√fan_in), std 1/√(3·fan_in); conv2 of level 1: fan_in 64·3·3
    const conv = floats(model, "down_blocks.1.resnets.0.conv2.weight");
    const bound = 1 / Math.sqrt(576);
    expect(Math.max(...conv.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(std(conv) / (bound / Math.sqrt(3))).toBeCloseTo(1, 1);
    const bias = floats(model, "down_blocks.1.resnets.0.conv2.bias");
    expect(bias.some((b) => b !== 0) && bias.every((b) => Math.abs(b) <= bound)).toBe(true);
    // a Linear's folded W.T: fan_in = in features (32)
    const toQ = node(model, "/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/MatMul");
    const wq = constFloats(toQ.inputs[1]);
    expect(std(wq) / (1 / Math.sqrt(3 * 32))).toBeCloseTo(1, 1);
    expect(floats(model, "mid_block.attentions.0.transformer_blocks.0.norm3.weight")).toEqual(
      new Float32Array(64).fill(1),
    );
    const groupNormBias = constFloats(node(model, "/conv_norm_out/Add").inputs[1]);
    expect(Array.from(groupNormBias)).toEqual(new Array(32).fill(0));
  });

  it("computes the time embedding, GroupNorm, attention and GEGLU as a TypeScript reference does", async () => {
    const model = build();
    const block = "/down_blocks.0/attentions.0/transformer_blocks.0";
    // Non-trivial GroupNorm affine, so the reference checks where it is applied.
    const norm1 = "/down_blocks.0/resnets.0/norm1";
    const gamma = setFolded(model, node(model, `${norm1}/Mul`), (i) => 0.5 + 0.05 * i);
    const beta = setFolded(model, node(model, `${norm1}/Add`), (i) => 0.1 * Math.sin(i));
    const probes = [
      "/time_proj/Concat_1",
      "/time_embedding/linear_2/Gemm",
      "/conv_in/Conv",
      `${norm1}/Add`,
      `${block}/norm1/Add_1`,
      `${block}/attn1/to_out.0/Add`,
      `${block}/norm2/Add_1`,
      `${block}/attn2/to_out.0/Add`,
      `${block}/norm3/Add_1`,
      `${block}/ff/net.2/Add`,
    ];
    for (const name of probes) {
      const value = node(model, name).outputs[0] as Value;
      value.type = tensorType(DataType.FLOAT);
      model.graph.outputs.push(value);
    }
    const probing = await openOrtSession(model);
    const x = inputs(2, 8, 8);
    const out = await probing.run(feeds(x));
    const got = (name: string) => floatOutput(out, `${name}_output_0`);

    // time_proj: [cos(t·f), sin(t·f)], f_i = exp(−ln(10000)·i/16); then linear_1 → SiLU → linear_2
    const half = 16;
    const sinusoid = x.timesteps.flatMap((step) => {
      const args = Array.from(
        { length: half },
        (_, i) => step * Math.exp((-Math.log(1e4) * i) / half),
      );
      return [...args.map(Math.cos), ...args.map(Math.sin)];
    });
    expect(maxAbsDiff(got("/time_proj/Concat_1"), sinusoid)).toBeLessThan(2e-4);
    const hidden = linearRef(got("/time_proj/Concat_1"), weightT(model, "time_embedding.linear_1"));
    const emb = linearRef(hidden.map(siluRef), weightT(model, "time_embedding.linear_2"));
    expect(maxAbsDiff(got("/time_embedding/linear_2/Gemm"), emb)).toBeLessThan(1e-4);

    // GroupNorm(8 groups, eps 1e-5) over [B, 32, 8, 8], then the [C, 1, 1] affine
    const normed = groupNormRef(got("/conv_in/Conv"), 2, 32, 64, 8, 1e-5, gamma, beta);
    expect(maxAbsDiff(got(`${norm1}/Add`), normed)).toBeLessThan(1e-4);

    // attn1 over the 64 tokens, attn2 from them to the 7 context tokens; 2 heads of 16
    const selfRef = attentionRef(model, `${block}/attn1`, got(`${block}/norm1/Add_1`), undefined);
    expect(maxAbsDiff(got(`${block}/attn1/to_out.0/Add`), selfRef)).toBeLessThan(1e-4);
    const crossRef = attentionRef(model, `${block}/attn2`, got(`${block}/norm2/Add_1`), x.context);
    expect(maxAbsDiff(got(`${block}/attn2/to_out.0/Add`), crossRef)).toBeLessThan(1e-4);

    // GEGLU: proj to 2·128, hidden · gelu(gate), then net.2 back to 32
    const projected = linearRef(
      got(`${block}/norm3/Add_1`),
      matmulWeight(model, `${block}/ff/net.0/proj`),
    );
    const gated: number[] = [];
    for (let row = 0; row < projected.length / 256; row++)
      for (let j = 0; j < 128; j++) {
        const gate = projected[row * 256 + 128 + j] as number;
        gated.push(
          (projected[row * 256 + j] as number) * 0.5 * gate * (1 + erf(gate / Math.SQRT2)),
        );
      }
    const ff = linearRef(gated, matmulWeight(model, `${block}/ff/net.2`));
    expect(maxAbsDiff(got(`${block}/ff/net.2/Add`), ff)).toBeLessThan(1e-4);
  });

  it("rejects configs that cannot form a model, naming the key", () => {
    const attempt = (overrides: Partial<UnetConfig>) => {
      try {
        build(overrides);
      } catch (error) {
        return isLatheError(error) ? `${error.code} ${error.message}` : String(error);
      }
      return "built";
    };
    expect(attempt({ heads: 3 })).toMatch(/^ZOO_CONFIG_INVALID config key "heads"/);
    expect(attempt({ groups: 5 })).toMatch(/"groups": 5 groups do not divide 32 channels/);
    expect(attempt({ blockChannels: "32,x" })).toMatch(/"blockChannels"/);
    expect(attempt({ blockChannels: "9,18", groups: 3, heads: 3 })).toMatch(/odd/);
    expect(attempt({ layersPerBlock: 0 })).toMatch(/"layersPerBlock": must be at least 1/);
  });
});

describe("zoo unet graph shape (pinned to the exporter's pattern)", () => {
  const model = build();
  const block = "/down_blocks.0/attentions.0/transformer_blocks.0";

  it("writes self-attention (attn1) op for op, as torch 2.1 exports AttnProcessor2_0", () => {
    // biome-ignore format: one row per line of modeling code
    expect(opsBetween(model, `${block}/norm1/Add_1`, `${block}/Add`)).toEqual([
      "Shape", "Constant", "Gather",                      // batch_size = hidden_states.shape[0]
      "MatMul", "MatMul", "MatMul",                       // to_q, to_k, to_v (no bias)
      "Shape", "Constant", "Gather",                      // inner_dim = key.shape[-1]
      ...FLOOR_DIVIDE,                                    // head_dim = inner_dim // heads
      ...VIEW_HEADS, "Transpose",                         // query.view(...).transpose(1, 2)
      ...VIEW_HEADS,                                      // key.view(...)
      ...VIEW_HEADS, "Transpose",                         // value.view(...).transpose(1, 2)
      ...SDPA,                                            // F.scaled_dot_product_attention
      "Transpose", "Constant", "Mul", ...VIEW_MERGED,     // .transpose(1, 2).reshape(b, -1, h * d)
      "Cast",                                             // .to(query.dtype)
      "MatMul", "Add",                                    // to_out.0 (bias first)
      "Add",                                              // attn_output + hidden_states
    ]);
    const keyT = node(model, `${block}/attn1/Transpose_2`);
    expect(keyT.getInts("perm")).toEqual([0, 2, 3, 1]); // key.transpose(1, 2) then (-2, -1), fused
    const bias = node(model, `${block}/attn1/to_out.0/Add`).inputs[0];
    expect(bias?.name).toBe("down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0.bias");
  });

  it("writes cross-attention (attn2) on encoder_hidden_states, its batch size read once", () => {
    const crossOps = [
      "MatMul",
      "MatMul",
      "MatMul",
      "Shape",
      "Constant",
      "Gather",
      ...FLOOR_DIVIDE,
      ...VIEW_HEADS,
      "Transpose",
      ...VIEW_HEADS,
      ...VIEW_HEADS,
      "Transpose",
      ...SDPA,
      "Transpose",
      "Constant",
      "Mul",
      ...VIEW_MERGED,
      "Cast",
      "MatMul",
      "Add",
      "Add",
    ];
    expect(opsBetween(model, `${block}/norm2/Add_1`, `${block}/Add_1`)).toEqual([
      "Shape",
      "Constant",
      "Gather", // encoder_hidden_states.shape[0]: CSE keeps the first
      ...crossOps,
    ]);
    const mid = "/mid_block/attentions.0/transformer_blocks.0";
    expect(opsBetween(model, `${mid}/norm2/Add_1`, `${mid}/Add_1`)).toEqual(crossOps);
    const batch = node(model, `${block}/attn2/Gather`);
    expect(batch.inputs[0]?.producer()?.inputs[0]?.name).toBe("encoder_hidden_states");
    const midView = node(model, `${mid}/attn2/Unsqueeze`);
    expect(midView.inputs[0]).toBe(batch.output);
    for (const projection of ["to_k", "to_v"])
      expect(node(model, `${mid}/attn2/${projection}/MatMul`).inputs[0]?.name).toBe(
        "encoder_hidden_states",
      );
  });

  it("matches onnxruntime's torch-2 UNet attention fusion (fusion_attention_unet.py)", () => {
    for (const attn of ["attn1", "attn2"]) {
      const residual = node(model, `${block}/${attn === "attn1" ? "Add" : "Add_1"}`);
      // qkv_nodes: Add ← MatMul ← Reshape ← Transpose ← MatMul, once onnxruntime's optimizer has
      // removed the same-type Cast of `.to(query.dtype)` (remove_useless_cast_nodes)
      const [, , , reshapeQkv, , matmulQkv] = parentPath(
        residual,
        ["Add", "MatMul", "Cast", "Reshape", "Transpose", "MatMul"],
        [0, 1, 0, 0, 0, 0],
      );
      expect(reshapeQkv?.opType).toBe("Reshape");
      const [, , matmulV] = parentPath(
        matmulQkv as Node,
        ["Transpose", "Reshape", "MatMul"],
        [1, 0, 0],
      );
      const [, matmulQk] = parentPath(matmulQkv as Node, ["Softmax", "MatMul"], [0, 0]);
      const [mulQ, , reshapeQ, matmulQ] = parentPath(
        matmulQk as Node,
        ["Mul", "Transpose", "Reshape", "MatMul"],
        [0, 0, 0, 0],
      );
      const [, , , matmulK] = parentPath(
        matmulQk as Node,
        ["Mul", "Transpose", "Reshape", "MatMul"],
        [1, 0, 0, 0],
      );
      // the scale for Q and K is sqrt(1 / sqrt(head_size)), from the shape of Q
      const scale = parentPath(
        mulQ as Node,
        ["Sqrt", "Div", "Sqrt", "Cast", "Slice", "Shape", "Transpose", "Reshape"],
        [1, 0, 1, 0, 0, 0, 0, 0],
      );
      expect(scale.at(-1)).toBe(reshapeQ);
      // bias-free projections; keys and values from encoder_hidden_states in attn2
      for (const matmul of [matmulQ, matmulK, matmulV])
        expect(matmul?.inputs[1]?.name).toMatch(/^onnx::MatMul_\d+$/);
      const source = attn === "attn1" ? `${block}/norm1/Add_1_output_0` : "encoder_hidden_states";
      expect([matmulK?.inputs[0]?.name, matmulV?.inputs[0]?.name]).toEqual([source, source]);
    }
  });

  it("writes a ResNet block with the time embedding projected into it", () => {
    // biome-ignore format: one row per line of modeling code
    expect(opsBetween(model, "/conv_in/Conv", "/down_blocks.0/resnets.0/Add_1")).toEqual([
      ...GROUP_NORM, "Sigmoid", "Mul", "Conv",            // norm1, nonlinearity, conv1
      "Sigmoid", "Mul", "Gemm",                           // time_emb_proj(nonlinearity(temb))
      "Constant", "Unsqueeze", "Constant", "Unsqueeze",   // [:, :, None, None]
      "Add",                                              // hidden_states + temb
      ...GROUP_NORM, "Sigmoid", "Mul", "Conv",            // norm2, nonlinearity, conv2
      "Add",                                              // input_tensor + hidden_states
    ]);
    // A later ResNet changes width (32 → 64): 1×1 conv_shortcut; its temb SiLU was merged by CSE
    // biome-ignore format: one row per line of modeling code
    expect(opsBetween(model, "/down_blocks.0/downsamplers.0/conv/Conv", "/down_blocks.1/resnets.0/Add_1")).toEqual([
      ...GROUP_NORM, "Sigmoid", "Mul", "Conv", "Gemm",
      "Constant", "Unsqueeze", "Constant", "Unsqueeze", "Add",
      ...GROUP_NORM, "Sigmoid", "Mul", "Conv", "Conv", "Add",
    ]);
    const shared = node(model, "/down_blocks.0/resnets.0/nonlinearity_1/Mul").output;
    const projections = model.graph.nodes().filter((n) => n.name.endsWith("/time_emb_proj/Gemm"));
    expect(projections).toHaveLength(8); // 2 down, 2 mid, 4 up
    for (const gemm of projections) {
      expect(gemm.inputs[0]).toBe(shared);
      expect(gemm.getInt("transB")).toBe(1);
    }
    expect(node(model, "/down_blocks.1/resnets.0/nonlinearity_1/Sigmoid").inputs[0]?.name).toBe(
      "/down_blocks.1/resnets.0/norm2/Add_output_0",
    );
  });

  it("writes GroupNorm as InstanceNormalization between Reshapes, as torch does before opset 18", () => {
    expect(scopeOps(model, "/down_blocks.0/resnets.0/norm1/")).toEqual(GROUP_NORM);
    // onnxruntime's fusion_group_norm.py: Add ← Mul ← Reshape ← InstanceNormalization ← Reshape
    for (const [scope, channels, eps] of [
      ["/down_blocks.1/resnets.0/norm1", 32, 1e-5],
      ["/mid_block/attentions.0/norm", 64, 1e-6],
      ["/conv_norm_out", 32, 1e-5],
    ] as const) {
      const add = node(model, `${scope}/Add`);
      const [mul, , instanceNorm, grouped] = parentPath(
        add,
        ["Mul", "Reshape", "InstanceNormalization", "Reshape"],
        [0, 0, 0, 0],
      );
      expect(mul?.inputs[1]?.constValue?.dims).toEqual([channels, 1, 1]);
      expect(add.inputs[1]?.constValue?.dims).toEqual([channels, 1, 1]);
      expect(instanceNorm?.getFloat("epsilon")).toBeCloseTo(eps, 12);
      const constant = (v: Value | undefined) => {
        const tensor = v?.producer()?.attribute("value")?.value;
        if (!(tensor instanceof Tensor)) throw new Error(`${v?.name} is not a Constant's output`);
        return Array.from(tensor.toArray(), Number);
      };
      expect(constant(grouped?.inputs[1])).toEqual([0, 8, -1]);
      expect(constant(instanceNorm?.inputs[1])).toEqual(new Array(8).fill(1));
      expect(constant(instanceNorm?.inputs[2])).toEqual(new Array(8).fill(0));
      expect(grouped?.getInt("allowzero")).toBe(0);
    }
  });

  it("writes the time embedding as diffusers' forward traces", () => {
    // biome-ignore format: one row per line of modeling code
    expect(opsBetween(model, undefined, "/time_embedding/linear_2/Gemm")).toEqual([
      "Shape", "Constant", "Gather",                                     // sample.shape[0]
      "Constant", "Unsqueeze", "Concat", "Constant", "Reshape",          // timesteps.expand(...)
      "Shape", "ConstantOfShape", "Constant", "Mul", "Equal", "Where", "Expand",
      "Constant", "Unsqueeze", "Cast",                                   // timesteps[:, None].float()
      "Constant", "Mul",                                                 // * exp(arange …)[None, :]
      "Sin", "Cos", "Concat",                                            // cat([sin, cos], -1)
      "Constant", "Constant", "Constant", "Constant", "Slice",           // emb[:, half:]
      "Constant", "Constant", "Constant", "Constant", "Slice", "Concat", // flip_sin_to_cos
      "Cast",                                                            // .to(sample.dtype)
      "Gemm", "Sigmoid", "Mul", "Gemm",                                  // time_embedding
    ]);
    const frequencies = node(model, "/time_proj/Mul").inputs[1];
    expect(frequencies?.name).toMatch(/^onnx::Mul_\d+$/);
    expect(frequencies?.producer()?.name).toMatch(/^Constant_\d+$/);
    expect(node(model, "/Expand").inputs[0]?.name).toBe("timestep");
  });

  it("down-samples with a stride-2 Conv, up-samples with nearest Resize and joins the skips", () => {
    const down = node(model, "/down_blocks.0/downsamplers.0/conv/Conv");
    expect([down.getInts("strides"), down.getInts("pads")]).toEqual([
      [2, 2],
      [1, 1, 1, 1],
    ]);
    const resize = node(model, "/up_blocks.0/upsamplers.0/Resize");
    expect(resize.inputs[1]).toBeUndefined(); // the opset-13 empty roi
    const scales = resize.inputs[2]?.producer()?.attribute("value")?.value as Tensor;
    expect(Array.from(scales.toArray() as Float32Array)).toEqual([1, 1, 2, 2]);
    expect(resize.attribute("mode")?.value).toBe("nearest");
    expect(resize.attribute("coordinate_transformation_mode")?.value).toBe("asymmetric");
    expect(resize.attribute("nearest_mode")?.value).toBe("floor");
    expect(node(model, "/up_blocks.0/upsamplers.0/conv/Conv").inputs[0]).toBe(resize.output);
    // Up blocks pop the down path's outputs last-first: 4 skips (conv_in, the level-0 ResNet,
    // the downsampler, the level-1 ResNet) for 2 × (layers + 1) ResNets.
    const skips = model.graph
      .nodes()
      .filter((n) => n.opType === "Concat" && /^\/up_blocks\.\d+\/Concat/.test(n.name))
      .map((n) => [n.getInt("axis"), n.inputs[1]?.producer()?.name]);
    expect(skips).toEqual([
      [1, "/down_blocks.1/resnets.0/Add_1"],
      [1, "/down_blocks.0/downsamplers.0/conv/Conv"],
      [1, "/down_blocks.0/attentions.0/Add"],
      [1, "/conv_in/Conv"],
    ]);
  });

  it("writes GEGLU as the chunk symbolic's Slices and exact (erf) GELU", () => {
    const ff = `${block}/ff/net.0/`;
    // biome-ignore format: one row per line of modeling code
    expect(scopeOps(model, ff).slice(2)).toEqual([
      "Shape", "Constant", "Gather", "Constant", "Constant", "Constant",   // chunk(2, dim=-1)
      "Add", "Div", "Constant", "Mul", "Slice", "Constant", "Mul", "Slice",
      "Constant", "Div", "Erf", "Constant", "Add", "Mul", "Constant", "Mul", // gelu(gate)
      "Mul",                                                               // hidden_states * ·
    ]);
    // onnxruntime's fusion_gelu.py: Mul(0.5) ← Mul ← Add(1) ← Erf ← Div(√2)
    const [, add, erf, div] = parentPath(
      node(model, `${ff}Mul_3`),
      ["Mul", "Add", "Erf", "Div"],
      [0, 1, 0, 0],
    );
    expect(add?.opType).toBe("Add");
    expect(erf?.opType).toBe("Erf");
    expect(div?.inputs[0]).toBe(node(model, `${ff}Slice_1`).output);
  });
});

// The op groups of the exported attention, as the symbolics write them.
// biome-ignore format: one row per line of the symbolic
const FLOOR_DIVIDE = [
  "Constant", "Div", "Constant", "Less", "Constant", "Xor",            // trunc div, sign test
  "Mul", "Sub", "Equal", "Not", "And", "Constant", "Cast", "Mul", "Sub", // remainder fix-up
];
// view(batch_size, -1, heads, head_dim): traced sizes unsqueezed on module-less axes
// biome-ignore format: one row per size
const VIEW_HEADS = [
  "Constant", "Unsqueeze", "Constant", "Constant", "Constant", "Unsqueeze", "Concat", "Reshape",
];
// biome-ignore format: one row per size
const VIEW_MERGED = ["Constant", "Unsqueeze", "Constant", "Constant", "Unsqueeze", "Concat", "Reshape"];
// biome-ignore format: one row per line of the symbolic
const SDPA = [
  "Shape", "Constant", "Constant", "Slice", "Cast",                    // query.size(-1) as float
  "Constant", "Sqrt", "Div",                                           // scale = 1 / √E
  "Transpose",                                                         // key.transpose(-2, -1)
  "Sqrt", "Mul", "Sqrt", "Mul",                                        // q·√scale, kᵀ·√scale
  "MatMul", "Softmax", "MatMul",
];
// biome-ignore format: one row per step
const GROUP_NORM = [
  "Constant", "Reshape",                                                // view(N, groups, -1)
  "Constant", "Constant", "InstanceNormalization",                      // scale 1, bias 0
  "Shape", "Reshape",                                                   // view back
  "Mul", "Add",                                                         // folded [C, 1, 1] affine
];

/** Op types strictly after `from` (or from the start) through `to`, in graph order. */
function opsBetween(model: Model, from: string | undefined, to: string): string[] {
  const nodes = model.graph.nodes();
  const start = from === undefined ? 0 : nodes.indexOf(node(model, from)) + 1;
  return nodes.slice(start, nodes.indexOf(node(model, to)) + 1).map((n) => n.opType);
}

function scopeOps(model: Model, scope: string): string[] {
  return model.graph
    .nodes()
    .filter((n) => n.name.startsWith(scope))
    .map((n) => n.opType);
}

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

function node(model: Model, name: string): Node {
  const found = model.graph.nodes().find((n) => n.name === name);
  if (!found) throw new Error(`no node ${name}`);
  return found;
}

function dimsOf(type: unknown): unknown {
  const t = type as { kind?: string; shape?: { dims: unknown[] } } | undefined;
  return t?.kind === "tensor" ? t.shape?.dims : undefined;
}

function constFloats(value: Value | undefined): Float32Array {
  const tensor = value?.constValue;
  if (!(tensor instanceof Tensor)) throw new Error(`${value?.name} is not a dense initializer`);
  return tensor.toArray() as Float32Array;
}

/** Replaces a folded [C, 1, 1] GroupNorm parameter (input 1 of `consumer`) with `f(channel)`. */
function setFolded(model: Model, consumer: Node, f: (channel: number) => number): Float32Array {
  const value = consumer.inputs[1] as Value;
  const dims = value.constValue?.dims ?? [];
  const values = Float32Array.from({ length: dims[0] ?? 0 }, (_, i) => f(i));
  value.constValue = Tensor.fromArray(DataType.FLOAT, dims, values, { name: value.name });
  expect(model.graph.initializers.get(value.name)).toBe(value);
  return values;
}

interface LinearWeights {
  /** [in, out] */
  weightT: Float32Array;
  inFeatures: number;
  bias?: Float32Array;
}

/** A Gemm Linear's stored [out, in] weight, transposed, and its bias. */
function weightT(model: Model, prefix: string): LinearWeights {
  const w = floats(model, `${prefix}.weight`);
  const bias = floats(model, `${prefix}.bias`);
  const [outF, inF] = [bias.length, w.length / bias.length];
  const t = new Float32Array(w.length);
  for (let o = 0; o < outF; o++)
    for (let i = 0; i < inF; i++) t[i * outF + o] = w[o * inF + i] as number;
  return { weightT: t, inFeatures: inF, bias };
}

/** A MatMul Linear's folded W.T (and its Add's bias), read from the nodes of `scope`. */
function matmulWeight(model: Model, scope: string): LinearWeights {
  const weight = node(model, `${scope}/MatMul`).inputs[1];
  const add = model.graph.nodes().find((n) => n.name === `${scope}/Add`);
  return {
    weightT: constFloats(weight),
    inFeatures: weight?.constValue?.dims[0] as number,
    ...(add ? { bias: constFloats(add.inputs[0]) } : {}),
  };
}

/** rows × W.T (+ bias), float64. */
function linearRef(x: ArrayLike<number>, w: LinearWeights): number[] {
  const outF = w.weightT.length / w.inFeatures;
  const rows = x.length / w.inFeatures;
  const y = new Array<number>(rows * outF).fill(0);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < outF; o++) {
      let sum = w.bias?.[o] ?? 0;
      for (let i = 0; i < w.inFeatures; i++)
        sum += (x[r * w.inFeatures + i] as number) * (w.weightT[i * outF + o] as number);
      y[r * outF + o] = sum;
    }
  return y;
}

function siluRef(x: number): number {
  return x / (1 + Math.exp(-x));
}

function groupNormRef(
  x: ArrayLike<number>,
  batch: number,
  channels: number,
  pixels: number,
  groups: number,
  eps: number,
  gamma: Float32Array,
  beta: Float32Array,
): number[] {
  const out = new Array<number>(x.length);
  const per = (channels / groups) * pixels;
  for (let b = 0; b < batch; b++)
    for (let g = 0; g < groups; g++) {
      const start = (b * groups + g) * per;
      let mean = 0;
      for (let k = 0; k < per; k++) mean += x[start + k] as number;
      mean /= per;
      let variance = 0;
      for (let k = 0; k < per; k++) variance += ((x[start + k] as number) - mean) ** 2;
      const inv = 1 / Math.sqrt(variance / per + eps);
      for (let k = 0; k < per; k++) {
        const c = g * (channels / groups) + Math.floor(k / pixels);
        out[start + k] =
          ((x[start + k] as number) - mean) * inv * (gamma[c] as number) + (beta[c] as number);
      }
    }
  return out;
}

/** diffusers' attention for one block, from the model's own weights: 1/√d scaling per head. */
function attentionRef(
  model: Model,
  scope: string,
  hidden: Float32Array,
  context: Float32Array | undefined,
): number[] {
  const batch = 2;
  const heads = tiny.heads;
  const toQ = matmulWeight(model, `${scope}/to_q`);
  const width = toQ.weightT.length / toQ.inFeatures;
  const d = width / heads;
  const q = linearRef(hidden, toQ);
  const k = linearRef(context ?? hidden, matmulWeight(model, `${scope}/to_k`));
  const v = linearRef(context ?? hidden, matmulWeight(model, `${scope}/to_v`));
  const queries = q.length / width / batch;
  const keys = k.length / width / batch;
  /** Element e of head h of token `token` of batch row b. */
  const at = (m: number[], tokens: number, b: number, h: number, token: number, e: number) =>
    m[(b * tokens + token) * width + h * d + e] as number;
  const merged = new Array<number>(q.length).fill(0);
  for (let b = 0; b < batch; b++)
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < queries; i++) {
        const scores = Array.from({ length: keys }, (_, j) => {
          let s = 0;
          for (let e = 0; e < d; e++) s += at(q, queries, b, h, i, e) * at(k, keys, b, h, j, e);
          return s / Math.sqrt(d);
        });
        const top = Math.max(...scores);
        const weights = scores.map((s) => Math.exp(s - top));
        const total = weights.reduce((sum, w) => sum + w, 0);
        for (let e = 0; e < d; e++) {
          let sum = 0;
          for (let j = 0; j < keys; j++)
            sum += ((weights[j] as number) / total) * at(v, keys, b, h, j, e);
          merged[(b * queries + i) * width + h * d + e] = sum;
        }
      }
  return linearRef(merged, matmulWeight(model, `${scope}/to_out.0`));
}

/** erf by Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7). */
function erf(x: number): number {
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const poly =
    t *
    (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return Math.sign(x) * (1 - poly * Math.exp(-a * a));
}

function rms(values: Float32Array): number {
  let sum = 0;
  for (const x of values) sum += x * x;
  return Math.sqrt(sum / values.length);
}

function std(values: Float32Array): number {
  let sum = 0;
  let squares = 0;
  for (const x of values) {
    sum += x;
    squares += x * x;
  }
  const mean = sum / values.length;
  return Math.sqrt(squares / values.length - mean * mean);
}
