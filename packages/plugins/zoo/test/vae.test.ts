import { type Model, relativeL2, SeededRandom, Tensor, type Value } from "@lathe/core";
import { float32Tensor, openOrtSession } from "@lathe/core/testing";
import type * as ort from "onnxruntime-node";
import { beforeAll, describe, expect, it } from "vitest";
import { type VaeMetadata, vae } from "../src/models/vae.js";
import type { VaeConfig } from "../src/models/vae-config.js";
import { constantTensor, dimsOf, floats, node, parentPath, scopeOps } from "./helpers/graph.js";
import { std } from "./helpers/numbers.js";
import { buildError, expectDeterministic } from "./helpers/zoo.js";

const tiny = vae.presets.tiny;
const SEED = 5;
const C = tiny.latentChannels;
const R = tiny.redundantRank;

function build(overrides: Partial<VaeConfig> = {}, seed = SEED) {
  const bundle = vae.build({ ...tiny, ...overrides }, { seed });
  const encoder = bundle.components.get("vae_encoder");
  const decoder = bundle.components.get("vae_decoder");
  if (!encoder || !decoder) throw new Error("the vae bundle lacks vae_encoder or vae_decoder");
  return { bundle, encoder, decoder, metadata: bundle.metadata as unknown as VaeMetadata };
}

/** A VAE's two sessions and helpers around them. */
async function sessions(built: ReturnType<typeof build>) {
  const encoder = await openOrtSession(built.encoder);
  const decoder = await openOrtSession(built.decoder);
  return {
    async encode(images: Images): Promise<Latents> {
      const out = await encoder.run({
        sample: float32Tensor(images.data, [images.batch, 3, images.height, images.width]),
      });
      const parameters = out.latent_parameters as ort.Tensor;
      const [batch = 0, channels = 0, height = 0, width = 0] = parameters.dims;
      return { data: parameters.data as Float32Array, batch, channels, height, width };
    },
    async decode(latents: Latents): Promise<ort.Tensor> {
      const { data, batch, channels, height, width } = latents;
      const out = await decoder.run({
        latent_sample: float32Tensor(data, [batch, channels, height, width]),
      });
      return out.sample as ort.Tensor;
    },
  };
}

interface Images {
  data: Float32Array;
  batch: number;
  height: number;
  width: number;
}
interface Latents extends Images {
  channels: number;
}

/** Smooth random images in [−1, 1]: a few random sinusoids per channel, like pictures more than noise. */
function images(batch: number, height: number, width: number, seed: number): Images {
  const random = new SeededRandom(seed);
  const uniform = () => random.uniform();
  const data = new Float32Array(batch * 3 * height * width);
  for (let plane = 0; plane < batch * 3; plane++) {
    const waves = Array.from({ length: 4 }, () => ({
      fy: uniform() * 0.5,
      fx: uniform() * 0.5,
      phase: uniform() * 2 * Math.PI,
      amplitude: uniform() * 0.5,
    }));
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        let v = 0;
        for (const w of waves) v += w.amplitude * Math.sin(w.fy * y + w.fx * x + w.phase);
        data[(plane * height + y) * width + x] = Math.tanh(v);
      }
  }
  return { data, batch, height, width };
}

/** The posterior mean: the first C channels of `latent_parameters`. */
function posteriorMean(parameters: Latents, channels: number): Latents {
  const { batch, height, width } = parameters;
  const plane = height * width;
  const data = new Float32Array(batch * channels * plane);
  for (let b = 0; b < batch; b++)
    data.set(
      parameters.data.subarray(b * 2 * channels * plane, (b * 2 + 1) * channels * plane),
      b * channels * plane,
    );
  return { data, batch, channels, height, width };
}

describe("zoo vae", () => {
  const built = build();
  let run: Awaited<ReturnType<typeof sessions>>;
  let means: Latents;

  beforeAll(async () => {
    run = await sessions(built);
    means = posteriorMean(await run.encode(images(4, 64, 64, 1)), C);
  });

  it("builds tiny as Optimum's vae_encoder and vae_decoder in one bundle", () => {
    const { bundle, encoder, decoder, metadata } = built;
    expect([...bundle.components.keys()]).toEqual(["vae_encoder", "vae_decoder"]);
    for (const model of [encoder, decoder]) {
      expect(model.opset()).toBe(14);
      expect([...model.opsetImports.keys()]).toEqual([""]);
      expect(model.irVersion).toBe(7);
      expect([model.producerName, model.producerVersion]).toEqual(["pytorch", "2.1.2"]);
      expect(model.graph.name).toBe("main_graph");
    }
    expect(encoder.graph.inputs.map((v) => [v.name, dimsOf(v)])).toEqual([
      ["sample", ["batch_size", 3, "height", "width"]],
    ]);
    expect(encoder.graph.outputs.map((v) => [v.name, dimsOf(v)])).toEqual([
      ["latent_parameters", ["batch_size", 2 * C, "height_latent", "width_latent"]],
    ]);
    expect(decoder.graph.inputs.map((v) => [v.name, dimsOf(v)])).toEqual([
      ["latent_sample", ["batch_size", C, "height_latent", "width_latent"]],
    ]);
    expect(decoder.graph.outputs.map((v) => [v.name, dimsOf(v)])).toEqual([
      ["sample", ["batch_size", 3, "height", "width"]],
    ]);

    // Each half keeps only its own parameters, under state-dict names in state-dict order.
    const names = (model: Model) => [...model.graph.initializers.keys()];
    expect(names(encoder).slice(0, 3)).toEqual([
      "encoder.conv_in.weight",
      "encoder.conv_in.bias",
      "encoder.down_blocks.0.resnets.0.conv1.weight",
    ]);
    expect(
      names(encoder)
        .filter((n) => !n.startsWith("onnx::"))
        .slice(-2),
    ).toEqual(["quant_conv.weight", "quant_conv.bias"]);
    expect(
      names(decoder)
        .filter((n) => !n.startsWith("onnx::"))
        .slice(-2),
    ).toEqual(["post_quant_conv.weight", "post_quant_conv.bias"]);
    expect(names(encoder).some((n) => n.startsWith("decoder.") || n.startsWith("post_quant"))).toBe(
      false,
    );
    expect(names(decoder).some((n) => n.startsWith("encoder.") || n.startsWith("quant_conv"))).toBe(
      false,
    );
    expect(node(encoder, "/quant_conv/Conv").outputs[0]?.name).toBe("latent_parameters");
    expect(node(decoder, "/decoder/conv_out/Conv").outputs[0]?.name).toBe("sample");

    expect(metadata.vaeConfig).toMatchObject({
      _class_name: "AutoencoderKL",
      block_out_channels: [32, 32, 64, 64],
      latent_channels: C,
      scaling_factor: 0.18215,
      sample_size: 32,
    });
    expect([metadata.scalingFactor, metadata.latentChannels, metadata.reduction]).toEqual([
      0.18215,
      C,
      8,
    ]);
    expect(metadata.latentRedundancy.rank).toBe(R);
    expect(metadata.latentRedundancy.description).toMatch(/decoder reads the latent only through/);
  });

  it("runs encoder and decoder on ONNX Runtime with an 8× reduction at several sizes", async () => {
    for (const [batch, height, width] of [
      [1, 32, 32],
      [2, 48, 64],
      [3, 16, 24],
    ] as const) {
      const parameters = await run.encode(images(batch, height, width, height));
      expect([parameters.batch, parameters.channels, parameters.height, parameters.width]).toEqual([
        batch,
        2 * C,
        height / 8,
        width / 8,
      ]);
      expect(parameters.data.every(Number.isFinite)).toBe(true);
      const decoded = await run.decode(posteriorMean(parameters, C));
      expect(decoded.dims).toEqual([batch, 3, height, width]);
      expect((decoded.data as Float32Array).every(Number.isFinite)).toBe(true);
    }
  });

  it("computes AutoencoderKL: both halves equal a direct TypeScript forward pass", async () => {
    const input = images(1, 32, 24, 3);
    const parameters = await run.encode(input);
    const reference = new Reference(built.encoder).encode({
      c: 3,
      h: 32,
      w: 24,
      data: Float64Array.from(input.data),
    });
    expect([reference.c, reference.h, reference.w]).toEqual([2 * C, 4, 3]);
    expect(relativeL2(Float32Array.from(reference.data), parameters.data)).toBeLessThan(1e-5);

    const latent = posteriorMean(parameters, C);
    const decoded = (await run.decode(latent)).data as Float32Array;
    const image = new Reference(built.decoder).decode({
      c: C,
      h: 4,
      w: 3,
      data: Float64Array.from(latent.data),
    });
    expect([image.c, image.h, image.w]).toEqual([3, 32, 24]);
    expect(relativeL2(Float32Array.from(image.data), decoded)).toBeLessThan(1e-5);
  });

  it("round-trips an image through a sampled latent to the image's shape", async () => {
    const input = images(2, 40, 56, 9);
    const parameters = await run.encode(input);
    // DiagonalGaussianDistribution: mean, clamp(logvar, −30, 20), z = mean + exp(logvar / 2)·ε
    const latent = posteriorMean(parameters, C);
    const plane = latent.height * latent.width;
    let noise = 0;
    for (let b = 0; b < latent.batch; b++)
      for (let i = 0; i < C * plane; i++) {
        const logvar = parameters.data[(b * 2 + 1) * C * plane + i] as number;
        const std = Math.exp(Math.min(20, Math.max(-30, logvar)) / 2);
        noise = Math.max(noise, std);
        latent.data[b * C * plane + i] = (latent.data[b * C * plane + i] as number) + std * 0.5;
      }
    // the posterior std sits at the planted noise level: noise / scaling_factor
    expect(noise).toBeGreaterThan(1e-3);
    expect(noise).toBeLessThan(3e-2);
    const decoded = await run.decode(latent);
    expect(decoded.dims).toEqual([input.batch, 3, input.height, input.width]);
  });

  it("encodes to a latent of numerical rank r: r large directions, C − r at the noise level", async () => {
    const spectrum = eigen(covariance(means)).values;
    expect(spectrum).toHaveLength(C);
    const top = spectrum[0] as number;
    const ratios = spectrum.map((v) => v / top);
    // r directions far above the rest; C − r at noise² = 1e-6 of the top (within 10× below, 1000× above)
    const noise2 = tiny.noise ** 2;
    for (const ratio of ratios.slice(0, R)) expect(ratio).toBeGreaterThan(0.02);
    for (const ratio of ratios.slice(R)) {
      expect(ratio).toBeLessThan(10 * noise2);
      expect(ratio).toBeGreaterThan(noise2 / 1000);
    }
    // the scaled latent is about unit scale, as scaling_factor intends
    const scaledStd = Math.sqrt(spectrum.reduce((a, b) => a + b, 0) / C) * tiny.scalingFactor;
    expect(scaledStd).toBeGreaterThan(0.3);
    expect(scaledStd).toBeLessThan(3);

    // Another rank and noise level move both parts of the spectrum accordingly.
    const other = await sessions(build({ redundantRank: 3, noise: 1e-2 }));
    const otherMeans = posteriorMean(await other.encode(images(4, 64, 64, 1)), C);
    const otherSpectrum = eigen(covariance(otherMeans)).values;
    const otherRatios = otherSpectrum.map((v) => v / (otherSpectrum[0] as number));
    for (const ratio of otherRatios.slice(0, 3)) expect(ratio).toBeGreaterThan(0.02);
    expect(otherRatios[3]).toBeLessThan(1e-3);
    expect(otherRatios[3]).toBeGreaterThan(1e-7);
  });

  it("decodes through Mᵀ only: the C − r minor directions never reach the image", async () => {
    const mixing = built.metadata.latentRedundancy.mixing;
    expect(mixing).toHaveLength(C);
    // M has orthonormal columns
    for (let i = 0; i < R; i++)
      for (let j = 0; j < R; j++) {
        let dot = 0;
        for (const row of mixing) dot += (row[i] as number) * (row[j] as number);
        expect(dot).toBeCloseTo(i === j ? 1 : 0, 10);
      }
    const plane = means.height * means.width;
    const shifted = (direction: number[], amount: number): Latents => {
      const data = Float32Array.from(means.data);
      for (let b = 0; b < means.batch; b++)
        for (let c = 0; c < C; c++)
          for (let p = 0; p < plane; p++)
            data[(b * C + c) * plane + p] =
              (data[(b * C + c) * plane + p] as number) + amount * (direction[c] as number);
      return { ...means, data };
    };
    // a direction orthogonal to M: e₀ − M·Mᵀ·e₀
    const orthogonal = Array.from(
      { length: C },
      (_, c) =>
        (c === 0 ? 1 : 0) - mixing[c]!.reduce((s, m, i) => s + m * (mixing[0]![i] as number), 0),
    );
    const major = mixing.map((row) => row[0] as number);
    const base = (await run.decode(means)).data as Float32Array;
    const minorMoved = (await run.decode(shifted(orthogonal, 20))).data as Float32Array;
    const majorMoved = (await run.decode(shifted(major, 1))).data as Float32Array;
    expect(relativeL2(base, minorMoved)).toBeLessThan(1e-5);
    expect(relativeL2(base, majorMoved)).toBeGreaterThan(1e-2);
  });

  it("lets a PCA reduction keep r channels almost losslessly, while r − 1 costs measurably more", async () => {
    const { mean, vectors } = eigen(covariance(means));
    const base = (await run.decode(means)).data as Float32Array;
    const keep = async (k: number) => {
      const reduced = project(means, mean, vectors.slice(0, k));
      return relativeL2(base, (await run.decode(reduced)).data as Float32Array);
    };
    const lossR = await keep(R);
    const lossFewer = await keep(R - 1);
    // the decoder reads Mᵀ·latent, which the r principal components miss only by O(noise²)
    expect(lossR).toBeLessThan(10 * tiny.noise ** 2);
    expect(lossFewer).toBeGreaterThan(0.1);
    expect(lossFewer).toBeGreaterThan(lossR * 1000);
  });

  it("is deterministic from the seed", () => {
    expectDeterministic((seed) => build({}, seed).encoder, SEED);
    expectDeterministic((seed) => build({}, seed).decoder, SEED);
    expect(build().metadata.latentRedundancy.mixing).toEqual(
      built.metadata.latentRedundancy.mixing,
    );
  });

  it("draws weights at PyTorch's default initialization scales", () => {
    const weight = floats(built.encoder, "encoder.down_blocks.1.resnets.0.conv1.weight");
    const bound = 1 / Math.sqrt(32 * 9);
    expect(Math.max(...weight.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(std(weight)).toBeCloseTo(bound / Math.sqrt(3), 3);
  });

  it("rejects configs that cannot form a model, naming the key", () => {
    const attempt = (overrides: Partial<VaeConfig>) => buildError(() => build(overrides));
    expect(attempt({ blockChannels: "32,x" })).toMatch(
      /^ZOO_CONFIG_INVALID config key "blockChannels"/,
    );
    expect(attempt({ groups: 24 })).toMatch(/"groups": 24 groups do not divide/);
    expect(attempt({ redundantRank: 5 })).toMatch(/"redundantRank": 5 exceeds latentChannels 4/);
    expect(attempt({ imageSize: 36 })).toMatch(/"imageSize"/);
    expect(attempt({ noise: -1 })).toMatch(/"noise"/);
    expect(attempt({ redundantRank: 4, noise: 0 })).toBe("built");
  });

  it("builds the sd config with the SD VAE's 83,653,863 parameters", () => {
    const sd = vae.presets.sd;
    if (!sd) throw new Error("vae has no sd preset");
    const bundle = vae.build(sd, { seed: 0 });
    let parameters = 0;
    for (const model of bundle.components.values())
      for (const [name, value] of model.graph.initializers) {
        // what constant folding made of F.pad / F.interpolate lists is no parameter
        if (name.startsWith("onnx::Pad_") || name.startsWith("onnx::Resize_")) continue;
        parameters += (value.constValue?.dims ?? []).reduce((a, b) => a * b, 1);
      }
    expect(parameters).toBe(83_653_863);
  });
});

describe("zoo vae graph shape (pinned to the exporter's pattern)", () => {
  const { encoder, decoder } = build();

  // biome-ignore format: one row per op of the module
  const GROUP_NORM = [
    "Constant", "Reshape",                                   // view(N, groups, −1)
    "Constant", "Constant", "InstanceNormalization",         // unit scale, zero bias
    "Shape", "Reshape",                                      // back to x's shape
    "Mul", "Add",                                            // folded [C,1,1] weight, bias
  ];
  const SILU = ["Sigmoid", "Mul"];

  it("writes a ResNet block op for op", () => {
    // biome-ignore format: one row per line of modeling code
    const block = [
      ...GROUP_NORM, ...SILU, "Conv",                          // norm1, nonlinearity, conv1
      ...GROUP_NORM, ...SILU, "Conv",                          // norm2, nonlinearity, conv2
    ];
    expect(scopeOps(encoder, "/encoder/down_blocks.1/resnets.0/")).toEqual([
      ...block,
      "Add",
      "Constant",
      "Div", // (input + hidden) / 1.0
    ]);
    // channels change 32 → 64: a 1×1 conv_shortcut on the input before the residual add
    expect(scopeOps(encoder, "/encoder/down_blocks.2/resnets.0/")).toEqual([
      ...block,
      "Conv",
      "Add",
      "Constant",
      "Div",
    ]);
    const add = node(encoder, "/encoder/down_blocks.2/resnets.0/Add");
    expect(add.inputs.map((v) => v?.producer()?.name)).toEqual([
      "/encoder/down_blocks.2/resnets.0/conv_shortcut/Conv",
      "/encoder/down_blocks.2/resnets.0/conv2/Conv",
    ]);
    const div = node(encoder, "/encoder/down_blocks.2/resnets.0/Div");
    expect(Number(constantTensor(div.inputs[1]?.producer()).toArray()[0])).toBe(1);
    const conv = node(encoder, "/encoder/down_blocks.2/resnets.0/conv1/Conv");
    expect(conv.inputs[1]?.name).toBe("encoder.down_blocks.2.resnets.0.conv1.weight");
    expect(conv.getInts("kernel_shape")).toEqual([3, 3]);
    expect(conv.getInts("pads")).toEqual([1, 1, 1, 1]);
    expect(node(encoder, "/encoder/down_blocks.2/resnets.0/nonlinearity/Sigmoid_1").opType).toBe(
      "Sigmoid",
    );
  });

  it("writes the mid-block attention op for op (scaled_dot_product_attention, 1 head)", () => {
    // biome-ignore format: one row per line of modeling code
    expect(scopeOps(encoder, "/encoder/mid_block/attentions.0/")).toEqual([
      "Shape", "Constant", "Gather", "Shape", "Constant", "Gather",           // batch, channel,
      "Shape", "Constant", "Gather", "Shape", "Constant", "Gather",           // height, width = .shape
      "Mul",                                                                  // height * width
      "Unsqueeze", "Unsqueeze", "Unsqueeze", "Concat", "Reshape",             // .view(b, c, h·w)
      "Transpose",                                                            // .transpose(1, 2)
      "Shape", "Constant", "Gather",                                          // batch_size = .shape[0]
      ...GROUP_NORM,                                                          // group_norm (transposes cancel)
      "Transpose",                                                            // .transpose(1, 2)
      "MatMul", "Add", "MatMul", "Add", "MatMul", "Add",                      // to_q, to_k, to_v
      "Shape", "Constant", "Gather",                                          // key.shape[-1]
      "Constant", "Div", "Cast", "Cast",                                      // // attn.heads
      "Unsqueeze", "Constant", "Constant", "Unsqueeze", "Concat", "Reshape", "Transpose", // q heads
      "Unsqueeze", "Constant", "Constant", "Unsqueeze", "Concat", "Reshape",  // k heads (transpose fused)
      "Unsqueeze", "Constant", "Constant", "Unsqueeze", "Concat", "Reshape", "Transpose", // v heads
      "Shape", "Constant", "Constant", "Slice", "Cast",                       // sdpa: q.size(-1)
      "Constant", "Sqrt", "Div", "Cast",                                      // scale = 1 / √E
      "Transpose", "Sqrt", "Mul", "Sqrt", "Mul",                              // kᵀ, q·√s, kᵀ·√s
      "MatMul", "Softmax", "MatMul",
      "Transpose", "Constant", "Mul",                                         // .transpose(1, 2), heads·head_dim
      "Unsqueeze", "Constant", "Unsqueeze", "Concat", "Reshape",              // .reshape(b, −1, ·)
      "Cast",                                                                 // .to(query.dtype)
      "MatMul", "Add",                                                        // to_out.0
      "Transpose",                                                            // .transpose(−1, −2)
      "Unsqueeze", "Unsqueeze", "Unsqueeze", "Unsqueeze", "Concat", "Reshape", // .reshape(b, c, h, w)
      "Add", "Constant", "Div",                                               // + residual, / 1.0
    ]);
    const scope = "/encoder/mid_block/attentions.0";
    expect(node(encoder, `${scope}/Transpose_4`).getInts("perm")).toEqual([0, 2, 3, 1]);
    expect(node(encoder, `${scope}/Transpose_4`).inputs[0]?.producer()?.name).toBe(
      `${scope}/Reshape_2`,
    );
    expect(node(encoder, `${scope}/Softmax`).getInt("axis")).toBe(-1);
    expect(node(encoder, `${scope}/group_norm/Reshape`).inputs[0]?.producer()?.name).toBe(
      `${scope}/Reshape`,
    );
    // heads is a Python int in the view, as onnxruntime reads it: Concat input 2
    const heads = node(encoder, `${scope}/Concat_1`).inputs[2]?.producer();
    expect(Number(constantTensor(heads).toArray()[0])).toBe(1);
    // Linear: MatMul with the folded transposed weight, then Add(bias, ·)
    const toQ = node(encoder, `${scope}/to_q/Add`);
    expect(toQ.inputs[0]?.name).toBe("encoder.mid_block.attentions.0.to_q.bias");
    const weight = node(encoder, `${scope}/to_q/MatMul`).inputs[1];
    expect(weight?.name).toMatch(/^onnx::MatMul_\d+$/);
    expect(weight?.constValue?.dims).toEqual([64, 64]);
    // the 3-D GroupNorm's affine is folded to [C, 1]
    expect(node(encoder, `${scope}/group_norm/Mul`).inputs[1]?.constValue?.dims).toEqual([64, 1]);
  });

  it("matches the GroupNorm path onnxruntime's FusionGroupNorm looks for", () => {
    let matched = 0;
    for (const model of [encoder, decoder])
      for (const add of model.graph
        .nodes()
        .filter((n) => /\/norm[12]\/Add$|\/conv_norm_out\/Add$/.test(n.name))) {
        const [mul, reshape4d, instanceNorm, reshape3d] = parentPath(
          add,
          ["Mul", "Reshape", "InstanceNormalization", "Reshape"],
          [0, 0, 0, 0],
        );
        const shape = reshape4d?.inputs[1]?.producer();
        expect(shape?.opType).toBe("Shape");
        expect(shape?.inputs[0]).toBe(reshape3d?.inputs[0]);
        expect(mul?.inputs[1]?.constValue?.dims).toEqual([
          mul?.inputs[1]?.constValue?.dims[0],
          1,
          1,
        ]);
        expect(add.inputs[1]?.name).toMatch(/^onnx::Add_\d+$/);
        const scale = constantTensor(instanceNorm?.inputs[1]?.producer());
        expect([...scale.toArray()]).toEqual(Array(32).fill(1));
        expect(instanceNorm?.getFloat("epsilon")).toBeCloseTo(1e-6, 12);
        // followed by swish: Mul(x, Sigmoid(x))
        const consumers = (add.outputs[0]?.uses() ?? []).map((use) => use.node);
        expect(consumers.map((n) => n.opType).sort()).toEqual(["Mul", "Sigmoid"]);
        matched++;
      }
    // tiny: encoder 6 + 4 resnets × 2 + conv_norm_out; decoder 8 + 4 resnets × 2 + conv_norm_out
    expect(matched).toBe(2 * (4 + 2) + 1 + 2 * (8 + 2) + 1);
  });

  it("downsamples with F.pad and a stride-2 conv, upsamples with nearest Resize and a conv", () => {
    expect(scopeOps(encoder, "/encoder/down_blocks.0/downsamplers.0/")).toEqual([
      "Constant",
      "Pad",
      "Conv",
    ]);
    const pad = node(encoder, "/encoder/down_blocks.0/downsamplers.0/Pad");
    expect(pad.getString("mode")).toBe("constant");
    expect(pad.inputs[1]?.name).toMatch(/^onnx::Pad_\d+$/);
    expect(initializerValues(pad.inputs[1])).toEqual(
      BigInt64Array.from([0n, 0n, 0n, 0n, 0n, 0n, 1n, 1n]),
    );
    const down = node(encoder, "/encoder/down_blocks.0/downsamplers.0/conv/Conv");
    expect([down.getInts("strides"), down.getInts("pads")]).toEqual([
      [2, 2],
      [0, 0, 0, 0],
    ]);
    expect(encoder.graph.nodes().filter((n) => n.opType === "Pad")).toHaveLength(3);

    expect(scopeOps(decoder, "/decoder/up_blocks.0/upsamplers.0/")).toEqual(["Resize", "Conv"]);
    const resize = node(decoder, "/decoder/up_blocks.0/upsamplers.0/Resize");
    expect(resize.inputs[1]).toBeUndefined();
    expect([...initializerValues(resize.inputs[2])]).toEqual([1, 1, 2, 2]);
    expect([
      resize.getString("mode"),
      resize.getString("coordinate_transformation_mode"),
      resize.getString("nearest_mode"),
    ]).toEqual(["nearest", "asymmetric", "floor"]);
    expect(decoder.graph.nodes().filter((n) => n.opType === "Resize")).toHaveLength(3);
  });

  it("wires the heads as AutoencoderKL's encode and decode do", () => {
    const first = decoder.graph.nodes()[0];
    expect(first?.name).toBe("/post_quant_conv/Conv");
    expect(node(decoder, "/decoder/conv_in/Conv").inputs[0]?.producer()).toBe(first);
    const cast = node(decoder, "/decoder/Cast"); // sample.to(upscale_dtype) after the mid block
    expect(cast.inputs[0]?.producer()?.name).toBe("/decoder/mid_block/resnets.1/Div");
    expect(cast.outputs[0]?.uses()[0]?.node.name).toMatch(/^\/decoder\/up_blocks\.0\/resnets\.0\//);
    expect(scopeOps(encoder, "/encoder/conv_act/")).toEqual(SILU);
    const quant = node(encoder, "/quant_conv/Conv");
    expect(quant.inputs[0]?.producer()?.name).toBe("/encoder/conv_out/Conv");
    expect(quant.getInts("kernel_shape")).toEqual([1, 1]);
  });
});

/** One image's feature map, channels × height × width. */
interface FeatureMap {
  c: number;
  h: number;
  w: number;
  data: Float64Array;
}

/**
 * AutoencoderKL's forward pass written directly from diffusers' modules (one image, float64),
 * reading every weight from the exported model: state-dict initializers by name, folded
 * GroupNorm affines and transposed Linear weights from the nodes that use them.
 */
class Reference {
  readonly #model: Model;
  readonly #blocks: number;
  readonly #layers: number;

  constructor(model: Model) {
    this.#model = model;
    this.#blocks = tiny.blockChannels.split(",").length;
    this.#layers = tiny.layersPerBlock;
  }

  encode(image: FeatureMap): FeatureMap {
    let h = this.#conv(image, "encoder.conv_in", 1, [1, 1, 1, 1]);
    for (let i = 0; i < this.#blocks; i++) {
      for (let j = 0; j < this.#layers; j++)
        h = this.#resnet(
          h,
          `/encoder/down_blocks.${i}/resnets.${j}`,
          `encoder.down_blocks.${i}.resnets.${j}`,
        );
      // F.pad(h, (0, 1, 0, 1)) then a stride-2 conv without padding
      if (i < this.#blocks - 1)
        h = this.#conv(h, `encoder.down_blocks.${i}.downsamplers.0.conv`, 2, [0, 0, 1, 1]);
    }
    h = this.#midBlock(h, "/encoder/mid_block", "encoder.mid_block");
    h = silu(this.#groupNorm(h, "/encoder/conv_norm_out"));
    h = this.#conv(h, "encoder.conv_out", 1, [1, 1, 1, 1]);
    return this.#conv(h, "quant_conv", 1, [0, 0, 0, 0]);
  }

  decode(latent: FeatureMap): FeatureMap {
    let h = this.#conv(latent, "post_quant_conv", 1, [0, 0, 0, 0]);
    h = this.#conv(h, "decoder.conv_in", 1, [1, 1, 1, 1]);
    h = this.#midBlock(h, "/decoder/mid_block", "decoder.mid_block");
    for (let i = 0; i < this.#blocks; i++) {
      for (let j = 0; j <= this.#layers; j++)
        h = this.#resnet(
          h,
          `/decoder/up_blocks.${i}/resnets.${j}`,
          `decoder.up_blocks.${i}.resnets.${j}`,
        );
      if (i < this.#blocks - 1)
        h = this.#conv(nearest2x(h), `decoder.up_blocks.${i}.upsamplers.0.conv`, 1, [1, 1, 1, 1]);
    }
    h = silu(this.#groupNorm(h, "/decoder/conv_norm_out"));
    return this.#conv(h, "decoder.conv_out", 1, [1, 1, 1, 1]);
  }

  #midBlock(x: FeatureMap, scope: string, name: string): FeatureMap {
    let h = this.#resnet(x, `${scope}/resnets.0`, `${name}.resnets.0`);
    h = this.#attention(h, `${scope}/attentions.0`, `${name}.attentions.0`);
    return this.#resnet(h, `${scope}/resnets.1`, `${name}.resnets.1`);
  }

  #resnet(x: FeatureMap, scope: string, name: string): FeatureMap {
    let h = silu(this.#groupNorm(x, `${scope}/norm1`));
    h = this.#conv(h, `${name}.conv1`, 1, [1, 1, 1, 1]);
    h = silu(this.#groupNorm(h, `${scope}/norm2`));
    h = this.#conv(h, `${name}.conv2`, 1, [1, 1, 1, 1]);
    const shortcut = this.#model.graph.initializers.has(`${name}.conv_shortcut.weight`)
      ? this.#conv(x, `${name}.conv_shortcut`, 1, [0, 0, 0, 0])
      : x;
    return { ...h, data: h.data.map((v, i) => (shortcut.data[i] as number) + v) };
  }

  /** Single-head self-attention over the h·w pixels, with GroupNorm and a residual. */
  #attention(x: FeatureMap, scope: string, name: string): FeatureMap {
    const { c, h, w } = x;
    const n = h * w;
    const normed = this.#groupNorm(x, `${scope}/group_norm`).data;
    const project = (input: (token: number, channel: number) => number, which: string) => {
      const weight = this.#constant(`${scope}/${which}/MatMul`, 1); // [in, out]
      const bias = this.#initializer(`${name}.${which}.bias`);
      const out = new Float64Array(n * c);
      for (let t = 0; t < n; t++)
        for (let o = 0; o < c; o++) {
          let sum = bias[o] as number;
          for (let i = 0; i < c; i++) sum += input(t, i) * (weight[i * c + o] as number);
          out[t * c + o] = sum;
        }
      return out;
    };
    const token = (t: number, i: number) => normed[i * n + t] as number;
    const [q, k, v] = ["to_q", "to_k", "to_v"].map((which) => project(token, which)) as [
      Float64Array,
      Float64Array,
      Float64Array,
    ];
    const context = new Float64Array(n * c);
    for (let t = 0; t < n; t++) {
      const scores = Array.from({ length: n }, (_, m) => {
        let dot = 0;
        for (let o = 0; o < c; o++) dot += (q[t * c + o] as number) * (k[m * c + o] as number);
        return dot / Math.sqrt(c);
      });
      const max = Math.max(...scores);
      const weights = scores.map((s) => Math.exp(s - max));
      const total = weights.reduce((a, b) => a + b, 0);
      for (let m = 0; m < n; m++)
        for (let o = 0; o < c; o++)
          context[t * c + o] =
            (context[t * c + o] as number) +
            ((weights[m] as number) / total) * (v[m * c + o] as number);
    }
    const out = project((t, i) => context[t * c + i] as number, "to_out.0");
    const data = new Float64Array(c * n);
    for (let i = 0; i < c; i++)
      for (let t = 0; t < n; t++)
        data[i * n + t] = (out[t * c + i] as number) + (x.data[i * n + t] as number);
    return { c, h, w, data };
  }

  /** GroupNorm(32, eps 1e-6) with the affine the graph's Mul and Add read. */
  #groupNorm(x: FeatureMap, scope: string): FeatureMap {
    const gamma = this.#constant(`${scope}/Mul`, 1);
    const beta = this.#constant(`${scope}/Add`, 1);
    const groups = 32;
    const size = (x.c / groups) * x.h * x.w;
    const data = new Float64Array(x.data.length);
    for (let g = 0; g < groups; g++) {
      const slice = x.data.subarray(g * size, (g + 1) * size);
      const mean = slice.reduce((a, b) => a + b, 0) / size;
      const variance = slice.reduce((a, b) => a + (b - mean) ** 2, 0) / size;
      for (let i = 0; i < size; i++) {
        const channel = Math.floor((g * size + i) / (x.h * x.w));
        const normalized = ((slice[i] as number) - mean) / Math.sqrt(variance + 1e-6);
        data[g * size + i] = normalized * (gamma[channel] as number) + (beta[channel] as number);
      }
    }
    return { ...x, data };
  }

  /** Conv2d with square kernel; `pads` are top, left, bottom, right. */
  #conv(x: FeatureMap, name: string, stride: number, pads: readonly number[]): FeatureMap {
    const weight = this.#initializer(`${name}.weight`);
    const bias = this.#initializer(`${name}.bias`);
    const out = bias.length;
    const kernel = Math.round(Math.sqrt(weight.length / (out * x.c)));
    const [top = 0, left = 0, bottom = 0, right = 0] = pads;
    const h = Math.floor((x.h + top + bottom - kernel) / stride) + 1;
    const w = Math.floor((x.w + left + right - kernel) / stride) + 1;
    const data = new Float64Array(out * h * w);
    for (let o = 0; o < out; o++)
      for (let y = 0; y < h; y++)
        for (let z = 0; z < w; z++) {
          let sum = bias[o] as number;
          for (let i = 0; i < x.c; i++)
            for (let ky = 0; ky < kernel; ky++) {
              const sy = y * stride + ky - top;
              if (sy < 0 || sy >= x.h) continue;
              for (let kx = 0; kx < kernel; kx++) {
                const sx = z * stride + kx - left;
                if (sx < 0 || sx >= x.w) continue;
                sum +=
                  (weight[((o * x.c + i) * kernel + ky) * kernel + kx] as number) *
                  (x.data[(i * x.h + sy) * x.w + sx] as number);
              }
            }
          data[(o * h + y) * w + z] = sum;
        }
    return { c: out, h, w, data };
  }

  #initializer(name: string) {
    return initializerValues(this.#model.graph.initializers.get(name)) as Float32Array;
  }

  #constant(nodeName: string, input: number) {
    return initializerValues(node(this.#model, nodeName).inputs[input]) as Float32Array;
  }
}

function silu(x: FeatureMap): FeatureMap {
  return { ...x, data: x.data.map((v) => v / (1 + Math.exp(-v))) };
}

function nearest2x(x: FeatureMap): FeatureMap {
  const [h, w] = [2 * x.h, 2 * x.w];
  const data = new Float64Array(x.c * h * w);
  for (let i = 0; i < x.c; i++)
    for (let y = 0; y < h; y++)
      for (let z = 0; z < w; z++)
        data[(i * h + y) * w + z] = x.data[(i * x.h + (y >> 1)) * x.w + (z >> 1)] as number;
  return { c: x.c, h, w, data };
}

/** Sample covariance of the latent channels over all pixels, with the channel means. */
function covariance(latents: Latents): { mean: Float64Array; matrix: Float64Array } {
  const { data, batch, channels, height, width } = latents;
  const plane = height * width;
  const count = batch * plane;
  const mean = new Float64Array(channels);
  for (let b = 0; b < batch; b++)
    for (let c = 0; c < channels; c++)
      for (let p = 0; p < plane; p++)
        mean[c] = (mean[c] as number) + (data[(b * channels + c) * plane + p] as number) / count;
  const matrix = new Float64Array(channels * channels);
  for (let b = 0; b < batch; b++)
    for (let p = 0; p < plane; p++)
      for (let i = 0; i < channels; i++) {
        const di = (data[(b * channels + i) * plane + p] as number) - (mean[i] as number);
        for (let j = 0; j < channels; j++) {
          const dj = (data[(b * channels + j) * plane + p] as number) - (mean[j] as number);
          matrix[i * channels + j] = (matrix[i * channels + j] as number) + (di * dj) / (count - 1);
        }
      }
  return { mean, matrix };
}

/** Eigenvalues (descending) and unit eigenvectors of a symmetric matrix, by cyclic Jacobi. */
function eigen(cov: { mean: Float64Array; matrix: Float64Array }) {
  const n = cov.mean.length;
  const a = Array.from({ length: n }, (_, i) =>
    Array.from(cov.matrix.subarray(i * n, (i + 1) * n)),
  );
  const v = Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (_, j) => (i === j ? 1 : 0) as number),
  );
  const at = (m: number[][], i: number, j: number) => m[i]![j] as number;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += at(a, p, q) ** 2;
    if (off < 1e-300) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        if (at(a, p, q) === 0) continue;
        const theta = (at(a, q, q) - at(a, p, p)) / (2 * at(a, p, q));
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const [kp, kq] = [at(a, k, p), at(a, k, q)];
          a[k]![p] = c * kp - s * kq;
          a[k]![q] = s * kp + c * kq;
        }
        for (let k = 0; k < n; k++) {
          const [pk, qk] = [at(a, p, k), at(a, q, k)];
          a[p]![k] = c * pk - s * qk;
          a[q]![k] = s * pk + c * qk;
        }
        for (let k = 0; k < n; k++) {
          const [kp, kq] = [at(v, k, p), at(v, k, q)];
          v[k]![p] = c * kp - s * kq;
          v[k]![q] = s * kp + c * kq;
        }
      }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => at(a, j, j) - at(a, i, i));
  return {
    mean: cov.mean,
    values: order.map((i) => at(a, i, i)),
    vectors: order.map((i) => v.map((row) => row[i] as number)),
  };
}

/** μ + U·Uᵀ·(z − μ) per pixel: what a PCA latent reduction to the given components decodes. */
function project(latents: Latents, mean: Float64Array, components: number[][]): Latents {
  const { data, batch, channels, height, width } = latents;
  const plane = height * width;
  const out = new Float32Array(data.length);
  const centered = new Float64Array(channels);
  for (let b = 0; b < batch; b++)
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < channels; c++)
        centered[c] = (data[(b * channels + c) * plane + p] as number) - (mean[c] as number);
      for (let c = 0; c < channels; c++) {
        let value = mean[c] as number;
        for (const u of components) {
          let coefficient = 0;
          for (let k = 0; k < channels; k++)
            coefficient += (u[k] as number) * (centered[k] as number);
          value += coefficient * (u[c] as number);
        }
        out[(b * channels + c) * plane + p] = value;
      }
    }
  return { ...latents, data: out };
}

function initializerValues(value: Value | undefined) {
  const tensor = value?.constValue;
  if (!(tensor instanceof Tensor)) throw new Error(`${value?.name} is no initializer`);
  return tensor.toArray();
}
