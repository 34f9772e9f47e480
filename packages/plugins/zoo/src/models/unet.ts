import { errors, type Model, type ModelBundle } from "@lathe/core";
import { defineZooModel } from "../zoo-model.js";
import {
  LATENT_CHANNELS,
  type UnetConfig,
  type UnetDims,
  unetConfigKeys,
  unetDims,
} from "./unet-config.js";
import { buildUnetModel, UNET_EXPORTER } from "./unet-graph.js";
import { parameterCount, unetStateDict } from "./unet-state-dict.js";
import { UnetWeights } from "./unet-weights.js";
import { vae } from "./vae.js";

const SD_TEXT = { contextDim: 768, groups: 32, heads: 8, transformerLayers: 1, vae: "none" };

/**
 * A Stable-Diffusion-style denoiser (diffusers UNet2DConditionModel) as torch 2.1's TorchScript
 * exporter writes it through Optimum: GroupNorm as InstanceNormalization between Reshapes,
 * SiLU as Sigmoid·x, the sinusoidal time embedding, Transformer2DModels whose attention is the
 * torch-2 SDPA pattern, GEGLU feed-forward, stride-2 downsampling and nearest-Resize upsampling,
 * skip Concats. One component, `unet`.
 */
export const unet = defineZooModel<UnetConfig>({
  name: "unet",
  summary:
    "Stable Diffusion UNet2DConditionModel (ResNets with GroupNorm/SiLU and time embedding, self- and cross-attention in the torch-2 SDPA export pattern, GEGLU) as torch.onnx.export writes it at opset 14",
  exporter: UNET_EXPORTER,
  configKeys: unetConfigKeys,
  presets: {
    tiny: {
      blockChannels: "32,64",
      layersPerBlock: 1,
      transformerLayers: 1,
      heads: 2,
      contextDim: 32,
      groups: 8,
      sampleSize: 8,
      vae: "none",
    },
    /** SD-shaped at a quarter of SD 1.5's width on three levels: 141.7 M parameters. */
    small: { ...SD_TEXT, blockChannels: "256,512,512", layersPerBlock: 2, sampleSize: 32 },
    /** Stable Diffusion 1.5's UNet: 859.5 M parameters, 3.4 GB of fp32 weights. */
    sd15: { ...SD_TEXT, blockChannels: "320,640,1280,1280", layersPerBlock: 2, sampleSize: 64 },
  },
  defaultPreset: "small",
  build(config, { seed }): ModelBundle {
    const dims = unetDims(config);
    const model = buildUnetModel(dims, new UnetWeights(seed));
    const decoder = withDecoder(config.vae, seed);
    return {
      components: new Map([["unet", model], ...decoder.components]),
      metadata: {
        ...decoder.metadata,
        architecture: "UNet2DConditionModel",
        config: { ...config },
        diffusersConfig: diffusersConfig(dims),
        scheduler: STABLE_DIFFUSION_SCHEDULER,
        parameters: parameterCount(unetStateDict(dims)),
      },
    };
  },
});

/** The `vae_decoder` of a zoo vae preset, with the metadata a pipeline reads (scaling factor). */
function withDecoder(
  preset: string,
  seed: number,
): { components: [string, Model][]; metadata: Record<string, unknown> } {
  if (preset === "none") return { components: [], metadata: {} };
  const config = vae.presets[preset];
  if (!config) throw errors.zooConfigInvalid("unet", "vae", `unknown vae preset ${preset}`);
  const built = vae.build(config, { seed });
  const { vaeConfig, scalingFactor } = built.metadata as Record<string, unknown>;
  return {
    components: [["vae_decoder", built.components.get("vae_decoder") as Model]],
    metadata: { vaeConfig, scalingFactor },
  };
}

/** Stable Diffusion 1.5's `scheduler/scheduler_config.json`: how its UNet was trained to denoise. */
const STABLE_DIFFUSION_SCHEDULER = {
  _class_name: "PNDMScheduler",
  num_train_timesteps: 1000,
  beta_schedule: "scaled_linear",
  beta_start: 0.00085,
  beta_end: 0.012,
  prediction_type: "epsilon",
  set_alpha_to_one: false,
  steps_offset: 1,
  skip_prk_steps: true,
} as const;

/** The same model in diffusers' config keys, for tools that read a `unet/config.json`. */
function diffusersConfig(dims: UnetDims): Record<string, unknown> {
  return {
    _class_name: "UNet2DConditionModel",
    in_channels: LATENT_CHANNELS,
    out_channels: LATENT_CHANNELS,
    sample_size: dims.sampleSize,
    block_out_channels: dims.channels,
    layers_per_block: dims.layersPerBlock,
    transformer_layers_per_block: dims.transformerLayers,
    attention_head_dim: dims.heads,
    cross_attention_dim: dims.contextDim,
    norm_num_groups: dims.groups,
    down_block_types: dims.down.map((b) =>
      b.crossAttention ? "CrossAttnDownBlock2D" : "DownBlock2D",
    ),
    up_block_types: dims.up.map((b) => (b.crossAttention ? "CrossAttnUpBlock2D" : "UpBlock2D")),
    mid_block_type: "UNetMidBlock2DCrossAttn",
    flip_sin_to_cos: true,
    freq_shift: 0,
    act_fn: "silu",
    norm_eps: 1e-5,
    use_linear_projection: false,
  };
}
