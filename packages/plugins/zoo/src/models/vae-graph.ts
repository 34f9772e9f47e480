import { type Builder, createBuilder, DataType, type Model, type Value } from "@lathe/core";
import { TorchScriptWriter } from "../torchscript.js";
import { midBlockAttention } from "./vae-attention.js";
import { IMAGE_CHANNELS, NORM_EPSILON, type VaeDims } from "./vae-config.js";
import {
  conv2d,
  downsample,
  groupNorm,
  resnetBlock,
  silu,
  upsample,
  type VaeContext,
} from "./vae-modules.js";
import { ComponentParameters } from "./vae-parameters.js";
import {
  decoderBlocks,
  encoderBlocks,
  type ParameterSpec,
  vaeStateDict,
} from "./vae-state-dict.js";

/** The exporter both graphs follow, op for op. */
export const VAE_EXPORTER =
  "Optimum 1.23 `optimum-cli export onnx` of a Stable Diffusion pipeline (vae_encoder/model.onnx → latent_parameters, vae_decoder/model.onnx), i.e. torch.onnx.export (TorchScript), torch 2.1.2, opset 14, do_constant_folding=True, of diffusers 0.30 AutoencoderKL (AttnProcessor2_0, scaled_dot_product_attention symbolic, fp32)";

const OPSET = 14;
// torch writes the IR version its kOpsetVersionToIRVersion table gives the opset: 14 → 7
const PRODUCER = { producerName: "pytorch", producerVersion: "2.1.2", irVersion: 7 };

/** Dynamic axes as Optimum's VaeEncoderOnnxConfig / VaeDecoderOnnxConfig name them. */
const BATCH = "batch_size";

type ParameterValues = (spec: ParameterSpec) => Float32Array;

/**
 * `vae_encoder/model.onnx`: AutoencoderKL with `forward = lambda sample:
 * {"latent_parameters": encode(sample).latent_dist.parameters}`, i.e. the `quant_conv` output
 * [mean ‖ logvar] (the distribution's clamp/exp are dead code and leave no node).
 */
export function buildVaeEncoder(dims: VaeDims, values: ParameterValues): Model {
  const { b, t, ctx } = component(dims, values, "encoder.", "quant_conv.");
  const sample = b.input("sample", DataType.FLOAT, [BATCH, IMAGE_CHANNELS, "height", "width"]);
  let h = conv2d(ctx, "/encoder/conv_in", "encoder.conv_in", sample, { kernel: 3, padding: 1 });
  encoderBlocks(dims).forEach((block, i) => {
    const scope = `/encoder/down_blocks.${i}`;
    const name = `encoder.down_blocks.${i}`;
    block.resnets.forEach((channels, j) => {
      h = resnetBlock(ctx, `${scope}/resnets.${j}`, `${name}.resnets.${j}`, h, channels);
    });
    if (block.downsample)
      h = downsample(ctx, `${scope}/downsamplers.0`, `${name}.downsamplers.0`, h);
  });
  h = midBlock(ctx, "/encoder/mid_block", "encoder.mid_block", h, dims);
  h = head(ctx, "/encoder", "encoder", h);
  const parameters = conv2d(ctx, "/quant_conv", "quant_conv", h, { kernel: 1 });
  b.output(parameters, "latent_parameters", DataType.FLOAT, [
    BATCH,
    2 * dims.latentChannels,
    "height_latent",
    "width_latent",
  ]);
  return finish(b, t);
}

/** `vae_decoder/model.onnx`: `forward = lambda latent_sample: decode(z=latent_sample)`. */
export function buildVaeDecoder(dims: VaeDims, values: ParameterValues): Model {
  const { b, t, ctx } = component(dims, values, "decoder.", "post_quant_conv.");
  const latent = b.input("latent_sample", DataType.FLOAT, [
    BATCH,
    dims.latentChannels,
    "height_latent",
    "width_latent",
  ]);
  const z = conv2d(ctx, "/post_quant_conv", "post_quant_conv", latent, { kernel: 1 });
  let h = conv2d(ctx, "/decoder/conv_in", "decoder.conv_in", z, { kernel: 3, padding: 1 });
  h = midBlock(ctx, "/decoder/mid_block", "decoder.mid_block", h, dims);
  h = t.in("/decoder", () => t.castFloat(h)); // sample.to(upscale_dtype)
  decoderBlocks(dims).forEach((block, i) => {
    const scope = `/decoder/up_blocks.${i}`;
    const name = `decoder.up_blocks.${i}`;
    block.resnets.forEach((channels, j) => {
      h = resnetBlock(ctx, `${scope}/resnets.${j}`, `${name}.resnets.${j}`, h, channels);
    });
    if (block.upsample) h = upsample(ctx, `${scope}/upsamplers.0`, `${name}.upsamplers.0`, h);
  });
  const image = head(ctx, "/decoder", "decoder", h);
  b.output(image, "sample", DataType.FLOAT, [BATCH, IMAGE_CHANNELS, "height", "width"]);
  return finish(b, t);
}

/** A builder, writer and parameter set for the parameters under the given prefixes. */
function component(dims: VaeDims, values: ParameterValues, ...prefixes: string[]) {
  const b = createBuilder({ opset: OPSET });
  b.graph.name = "main_graph";
  const specs = vaeStateDict(dims).filter((spec) => prefixes.some((p) => spec.name.startsWith(p)));
  const params = new ComponentParameters(b, specs, values);
  const t = new TorchScriptWriter(b, b.graph.initializers.size + 1);
  const ctx: VaeContext = { t, b, params, groups: dims.groups, eps: NORM_EPSILON };
  return { b, t, ctx };
}

/** `UNetMidBlock2D`: resnets.0 → attentions.0 → resnets.1 at the top block's width. */
function midBlock(ctx: VaeContext, scope: string, name: string, x: Value, dims: VaeDims): Value {
  const top = dims.channels[dims.channels.length - 1] as number;
  let h = resnetBlock(ctx, `${scope}/resnets.0`, `${name}.resnets.0`, x, [top, top]);
  h = midBlockAttention(ctx, `${scope}/attentions.0`, `${name}.attentions.0`, h);
  return resnetBlock(ctx, `${scope}/resnets.1`, `${name}.resnets.1`, h, [top, top]);
}

/** conv_norm_out → conv_act (SiLU) → conv_out. */
function head(ctx: VaeContext, scope: string, name: string, x: Value): Value {
  const normed = groupNorm(ctx, `${scope}/conv_norm_out`, `${name}.conv_norm_out`, x, 4);
  const activated = silu(ctx.t, `${scope}/conv_act`, normed);
  return conv2d(ctx, `${scope}/conv_out`, `${name}.conv_out`, activated, { kernel: 3, padding: 1 });
}

function finish(b: Builder, t: TorchScriptWriter): Model {
  t.nameUnscopedNodes(b.graph.nodes());
  return b.build(PRODUCER);
}
