import { errors } from "@lathe/core";
import type { ConfigKey } from "../zoo-model.js";

/** An AutoencoderKL configuration in the zoo's `--config` keys (diffusers names in brackets). */
export type VaeConfig = {
  /** [block_out_channels], comma-separated: one down block (and one up block) per entry. */
  blockChannels: string;
  /** [layers_per_block]: ResNet blocks per encoder block; decoder blocks have one more. */
  layersPerBlock: number;
  /** [latent_channels] C. */
  latentChannels: number;
  /** [norm_num_groups] of every GroupNorm. */
  groups: number;
  /** [sample_size]: the image side the model is made for (the graphs accept any multiple of 2^(blocks−1)). */
  imageSize: number;
  /** r: independent directions in the C-channel latent (the planted redundancy). */
  redundantRank: number;
  /** Amplitude of the C − r minor latent directions relative to the major ones. */
  noise: number;
  /** [scaling_factor]: what a pipeline multiplies latents by before the UNet. */
  scalingFactor: number;
};

export const vaeConfigKeys: Record<keyof VaeConfig, ConfigKey> = {
  blockChannels: {
    type: "string",
    description:
      "block_out_channels, comma-separated (e.g. 128,256,512,512); n blocks downsample 2^(n−1)×; each a multiple of groups",
  },
  layersPerBlock: {
    type: "integer",
    minimum: 1,
    description: "layers_per_block: ResNet blocks per encoder block (decoder blocks get one more)",
  },
  latentChannels: { type: "integer", minimum: 1, description: "latent_channels C" },
  groups: { type: "integer", minimum: 1, description: "norm_num_groups of every GroupNorm" },
  imageSize: {
    type: "integer",
    minimum: 1,
    description:
      "sample_size: the image side the model is made for (recorded in metadata; the graphs take any size divisible by the reduction)",
  },
  redundantRank: {
    type: "integer",
    minimum: 1,
    description:
      "r ≤ latentChannels: the latent carries r independent directions mixed into C channels (r = C: no redundancy)",
  },
  noise: {
    type: "number",
    minimum: 0,
    description:
      "amplitude of the C − r minor latent directions relative to the major ones (their variance share is about noise²)",
  },
  scalingFactor: {
    type: "number",
    minimum: 0,
    description: "scaling_factor (SD 0.18215): the latent's typical std is about 1 / scalingFactor",
  },
};

/** diffusers' AutoencoderKL constants that the zoo does not expose. */
export const IMAGE_CHANNELS = 3;
export const NORM_EPSILON = 1e-6;

/** The sizes the graphs need, derived from a checked config. */
export interface VaeDims extends VaeConfig {
  channels: readonly number[];
  /** Spatial reduction 2^(blocks − 1). */
  reduction: number;
}

/** Checks the keys' types and how they fit together; throws a LatheError naming the key. */
export function vaeDims(config: VaeConfig): VaeDims {
  for (const [key, spec] of Object.entries(vaeConfigKeys)) {
    const value = (config as Record<string, unknown>)[key];
    if (spec.type === "string") {
      if (typeof value !== "string") invalid(key, `must be a string, got ${String(value)}`);
      continue;
    }
    if (typeof value !== "number" || !Number.isFinite(value))
      invalid(key, `must be a number, got ${String(value)}`);
    if (spec.type === "integer" && !Number.isInteger(value))
      invalid(key, `must be an integer, got ${value}`);
    if (spec.minimum !== undefined && value < spec.minimum)
      invalid(key, `must be at least ${spec.minimum}, got ${value}`);
  }
  const channels = parseChannels(config.blockChannels);
  const { groups, latentChannels, redundantRank, imageSize, scalingFactor } = config;
  const indivisible = channels.find((c) => c % groups !== 0);
  if (indivisible !== undefined)
    invalid(
      "groups",
      `${groups} groups do not divide block channels ${indivisible}`,
      "GroupNorm needs every block's channels to be a multiple of groups",
    );
  if (redundantRank > latentChannels)
    invalid("redundantRank", `${redundantRank} exceeds latentChannels ${latentChannels}`);
  if (scalingFactor <= 0) invalid("scalingFactor", `must be positive, got ${scalingFactor}`);
  const reduction = 2 ** (channels.length - 1);
  if (imageSize % reduction !== 0)
    invalid("imageSize", `${imageSize} is not a multiple of the ${reduction}× reduction`);
  return { ...config, channels, reduction };
}

function parseChannels(text: string): number[] {
  const items = text.split(",").map((item) => item.trim());
  const channels = items.map(Number);
  if (items.some((item) => item === "") || channels.some((c) => !Number.isInteger(c) || c < 1))
    invalid(
      "blockChannels",
      `"${text}" is not a list of positive integers`,
      "write e.g. blockChannels=128,256,512,512",
    );
  return channels;
}

function invalid(key: string, detail: string, hint?: string): never {
  throw errors.zooConfigInvalid("vae", key, detail, hint);
}
