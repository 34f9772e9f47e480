import { errors } from "@lathe/core";
import type { ConfigKey } from "../zoo-model.js";

/** A UNet configuration, in the zoo's `--config` keys (diffusers' UNet2DConditionModel config in brackets). */
export type UnetConfig = {
  /** [block_out_channels] as a comma-separated list, e.g. "320,640,1280,1280". */
  blockChannels: string;
  /** [layers_per_block] */
  layersPerBlock: number;
  /** [transformer_layers_per_block]: BasicTransformerBlocks in each Transformer2DModel. */
  transformerLayers: number;
  /** Attention heads of every block ([attention_head_dim], which SD 1.5 uses as the head count). */
  heads: number;
  /** [cross_attention_dim]: width of `encoder_hidden_states`. */
  contextDim: number;
  /** [norm_num_groups] */
  groups: number;
  /** [sample_size]: the latent size the model is meant for (the graph takes any multiple of 2^levels). */
  sampleSize: number;
  /** Also build a zoo VAE of this preset and add its `vae_decoder` (a pipeline bundle), or none. */
  vae: string;
};

/** The VAE presets a UNet bundle may carry, or none. */
export const UNET_VAES = ["none", "tiny", "small", "sd"] as const;

export const unetConfigKeys: Record<keyof UnetConfig, ConfigKey> = {
  blockChannels: {
    type: "string",
    description:
      "block_out_channels, comma-separated (one UNet level each); every level but the last has cross-attention and downsamples",
  },
  layersPerBlock: {
    type: "integer",
    minimum: 1,
    description: "ResNet (+ transformer) layers per down block; up blocks have one more",
  },
  transformerLayers: {
    type: "integer",
    minimum: 1,
    description: "BasicTransformerBlocks in each Transformer2DModel (transformer_layers_per_block)",
  },
  heads: {
    type: "integer",
    minimum: 1,
    description: "attention heads in every block; must divide every block's channels",
  },
  contextDim: {
    type: "integer",
    minimum: 1,
    description: "cross_attention_dim: last dimension of encoder_hidden_states (CLIP ViT-L: 768)",
  },
  groups: {
    type: "integer",
    minimum: 1,
    description: "GroupNorm groups (norm_num_groups); must divide every block's channels",
  },
  sampleSize: {
    type: "integer",
    minimum: 1,
    description:
      "sample_size: the latent height/width the model is meant for (metadata; the graph's spatial axes are dynamic)",
  },
  vae: {
    type: "string",
    enum: UNET_VAES,
    description:
      "also add the vae_decoder of a zoo vae of this preset (same seed), so the bundle is a pipeline whose latents decode to images",
  },
};

/** Fixed by Stable Diffusion's UNet2DConditionModel config. */
export const LATENT_CHANNELS = 4;
/** norm_eps: GroupNorm of the ResNets and conv_norm_out, and the transformers' LayerNorms. */
export const NORM_EPS = 1e-5;
/** Transformer2DModel builds its GroupNorm with eps=1e-6 whatever the config says. */
export const TRANSFORMER_NORM_EPS = 1e-6;

export interface ResnetPlan {
  inChannels: number;
  outChannels: number;
}

/** One level of the UNet: CrossAttnDownBlock2D / DownBlock2D or CrossAttnUpBlock2D / UpBlock2D. */
export interface BlockPlan {
  crossAttention: boolean;
  channels: number;
  /** For up blocks `inChannels` includes the skip connection concatenated before each ResNet. */
  resnets: ResnetPlan[];
  /** Downsample2D after a down block, Upsample2D after an up block. */
  resample: boolean;
}

/** The sizes the graph needs, derived from a checked config. */
export interface UnetDims extends UnetConfig {
  channels: number[];
  /** time_embed_dim = 4 × block_out_channels[0] */
  timeEmbedDim: number;
  down: BlockPlan[];
  up: BlockPlan[];
  /** UNetMidBlock2DCrossAttn width. */
  midChannels: number;
}

/**
 * Checks the keys' types and how they fit together, then lays the blocks out as
 * UNet2DConditionModel.__init__ does with Stable Diffusion's block types: CrossAttnDownBlock2D
 * on every level but the last (DownBlock2D), mirrored by UpBlock2D then CrossAttnUpBlock2D.
 */
export function unetDims(config: UnetConfig): UnetDims {
  for (const [key, spec] of Object.entries(unetConfigKeys)) {
    const value = (config as Record<string, unknown>)[key];
    if (spec.type === "string") {
      if (typeof value !== "string") invalid(key, `must be a string, got ${String(value)}`);
      continue;
    }
    if (typeof value !== "number" || !Number.isInteger(value))
      invalid(key, `must be an integer, got ${String(value)}`);
    if (spec.minimum !== undefined && value < spec.minimum)
      invalid(key, `must be at least ${spec.minimum}, got ${value}`);
  }
  const channels = parseChannels(config.blockChannels);
  if ((channels[0] as number) % 2 !== 0)
    invalid(
      "blockChannels",
      `the first level's ${channels[0]} channels are odd; the sinusoidal time embedding needs an even width`,
    );
  for (const c of channels) {
    if (c % config.groups !== 0)
      invalid("groups", `${config.groups} groups do not divide ${c} channels`);
    if (c % config.heads !== 0)
      invalid("heads", `${config.heads} heads do not divide ${c} channels`);
  }
  return { ...config, ...layout(channels, config.layersPerBlock) };
}

function parseChannels(text: string): number[] {
  const parts = text.split(",").map((part) => part.trim());
  const channels = parts.map(Number);
  if (parts.some((part) => part === "") || channels.some((c) => !Number.isInteger(c) || c < 1))
    invalid(
      "blockChannels",
      `"${text}" is not a list of positive integers`,
      'write the channels of each level, e.g. "320,640,1280,1280"',
    );
  return channels;
}

function layout(channels: number[], layers: number) {
  const levels = channels.length;
  const at = (i: number) => channels[Math.min(Math.max(i, 0), levels - 1)] as number;
  const down: BlockPlan[] = channels.map((out, i) => ({
    crossAttention: i < levels - 1,
    channels: out,
    resnets: Array.from({ length: layers }, (_, j) => ({
      inChannels: j === 0 ? at(i - 1) : out,
      outChannels: out,
    })),
    resample: i < levels - 1,
  }));
  const reversed = [...channels].reverse();
  const up: BlockPlan[] = reversed.map((out, i) => {
    const previous = reversed[Math.max(i - 1, 0)] as number;
    const input = reversed[Math.min(i + 1, levels - 1)] as number;
    return {
      crossAttention: i > 0,
      channels: out,
      resnets: Array.from({ length: layers + 1 }, (_, j) => ({
        inChannels: (j === 0 ? previous : out) + (j === layers ? input : out),
        outChannels: out,
      })),
      resample: i < levels - 1,
    };
  });
  return {
    channels,
    timeEmbedDim: 4 * at(0),
    down,
    up,
    midChannels: at(levels - 1),
  };
}

function invalid(key: string, detail: string, hint?: string): never {
  throw errors.zooConfigInvalid("unet", key, detail, hint);
}
