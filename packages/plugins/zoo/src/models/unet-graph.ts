import { createBuilder, DataType, type Model, type Value } from "@lathe/core";
import { TorchScriptWriter } from "../torchscript.js";
import { LATENT_CHANNELS, NORM_EPS, type UnetDims } from "./unet-config.js";
import { conv2d, groupNorm, silu } from "./unet-ops.js";
import { UnetParameters } from "./unet-parameters.js";
import { ActivatedTimeEmbedding, downsample, resnetBlock, upsample } from "./unet-resnet.js";
import { unetStateDict } from "./unet-state-dict.js";
import { timeEmbedding } from "./unet-time.js";
import { type TransformerContext, transformer2d } from "./unet-transformer.js";
import type { UnetWeights } from "./unet-weights.js";

/** The exporter this graph follows, op for op. */
export const UNET_EXPORTER =
  "torch.onnx.export (TorchScript), torch 2.1.2, opset 14, do_constant_folding=True, of diffusers 0.25 UNet2DConditionModel (AttnProcessor2_0, i.e. F.scaled_dot_product_attention; fp32), with Optimum's UNet input/output names and dynamic axes (timestep as [steps])";

/** Dynamic axes as Optimum names them. */
const BATCH = "batch_size";
const HEIGHT = "height";
const WIDTH = "width";

/**
 * UNet2DConditionModel.forward as the exporter writes it: time embedding, conv_in, the down
 * blocks (their outputs kept as skips), the mid block, the up blocks (each ResNet after a
 * Concat with a skip), conv_norm_out → SiLU → conv_out.
 */
export function buildUnetModel(dims: UnetDims, weights: UnetWeights): Model {
  const b = createBuilder({ opset: 14 });
  b.graph.name = "main_graph";
  const sample = b.input("sample", DataType.FLOAT, [BATCH, LATENT_CHANNELS, HEIGHT, WIDTH]);
  const timestep = b.input("timestep", DataType.FLOAT, ["steps"]);
  const context = b.input("encoder_hidden_states", DataType.FLOAT, [
    BATCH,
    "sequence_length",
    dims.contextDim,
  ]);

  const entries = unetStateDict(dims);
  // torch numbers values after the inputs and the state dict
  const t = new TorchScriptWriter(b, b.graph.inputs.length + entries.length);
  const p = new UnetParameters(t, entries, weights);

  const emb = timeEmbedding(t, p, sample, timestep, dims.channels[0] as number);
  const temb = new ActivatedTimeEmbedding(t, emb);
  let contextBatch: Value | undefined;
  const transformers: TransformerContext = {
    t,
    p,
    heads: dims.heads,
    groups: dims.groups,
    layers: dims.transformerLayers,
    context,
    contextBatch: () => {
      contextBatch ??= t.size(context, 0);
      return contextBatch;
    },
  };
  const resnet = (path: string, x: Value, plan: UnetDims["down"][number]["resnets"][number]) =>
    resnetBlock(t, p, path, x, temb, plan, dims.groups);

  let h = conv2d(t, "/conv_in", sample, p.affine("conv_in"), 3, { padding: 1 });
  const skips: Value[] = [h];
  dims.down.forEach((plan, i) => {
    const path = `down_blocks.${i}`;
    plan.resnets.forEach((r, j) => {
      h = resnet(`${path}.resnets.${j}`, h, r);
      if (plan.crossAttention) h = transformer2d(transformers, `${path}.attentions.${j}`, h);
      skips.push(h);
    });
    if (plan.resample) {
      h = downsample(t, p, `${path}.downsamplers.0`, h);
      skips.push(h);
    }
  });

  const mid = { inChannels: dims.midChannels, outChannels: dims.midChannels };
  h = resnet("mid_block.resnets.0", h, mid);
  h = transformer2d(transformers, "mid_block.attentions.0", h);
  h = resnet("mid_block.resnets.1", h, mid);

  dims.up.forEach((plan, i) => {
    const path = `up_blocks.${i}`;
    plan.resnets.forEach((r, j) => {
      const skip = skips.pop() as Value;
      h = t.in(`/up_blocks.${i}`, () => t.op("Concat", [h, skip], { axis: 1 }));
      h = resnet(`${path}.resnets.${j}`, h, r);
      if (plan.crossAttention) h = transformer2d(transformers, `${path}.attentions.${j}`, h);
    });
    if (plan.resample) h = upsample(t, p, `${path}.upsamplers.0`, h);
  });

  h = groupNorm(t, "/conv_norm_out", h, p.groupNorm("conv_norm_out"), dims.groups, NORM_EPS);
  h = silu(t, "/conv_act", h);
  const out = conv2d(t, "/conv_out", h, p.affine("conv_out"), 3, { padding: 1 });
  b.output(out, "out_sample", DataType.FLOAT, [BATCH, LATENT_CHANNELS, HEIGHT, WIDTH]);

  t.nameUnscopedNodes(b.graph.nodes());
  // torch writes the IR version of the opset (kOpsetVersionToIRVersion: opset 14 → 7)
  return b.build({ producerName: "pytorch", producerVersion: "2.1.2", irVersion: 7 });
}
