import type { ModelBundle } from "@lathe/core";
import { defineZooModel } from "../zoo-model.js";
import { IMAGE_CHANNELS, type VaeConfig, vaeConfigKeys, vaeDims } from "./vae-config.js";
import { buildVaeDecoder, buildVaeEncoder, VAE_EXPORTER } from "./vae-graph.js";
import { plantRedundancy } from "./vae-latent.js";
import type { ParameterSpec } from "./vae-state-dict.js";
import { initialValues } from "./vae-weights.js";

/** What the bundle's metadata says about the latent, for pipelines and latent-reduction passes. */
export interface VaeMetadata {
  readonly architecture: "AutoencoderKL";
  readonly config: VaeConfig;
  /** diffusers' AutoencoderKL config.json, as Optimum writes it next to each component. */
  readonly vaeConfig: Record<string, unknown>;
  readonly scalingFactor: number;
  readonly latentChannels: number;
  /** Spatial reduction of the encoder (8 for four blocks). */
  readonly reduction: number;
  readonly latentRedundancy: {
    readonly rank: number;
    readonly noise: number;
    /** M, latentChannels rows of `rank` numbers, orthonormal columns. */
    readonly mixing: number[][];
    readonly gains: number[];
    readonly description: string;
  };
}

const common = {
  latentChannels: 4,
  groups: 32,
  redundantRank: 2,
  noise: 1e-3,
  scalingFactor: 0.18215,
};

/**
 * Stable Diffusion's AutoencoderKL as Optimum exports its two halves (`vae_encoder`,
 * `vae_decoder`), one bundle. The latent carries `redundantRank` independent directions mixed
 * into `latentChannels` channels, so latent-space reduction has a known right answer.
 */
export const vae = defineZooModel<VaeConfig>({
  name: "vae",
  summary:
    "AutoencoderKL (GroupNorm ResNet blocks, 8× down/up sampling, single-head mid-block attention) as Optimum exports vae_encoder and vae_decoder, with a planted rank-r latent",
  exporter: VAE_EXPORTER,
  configKeys: vaeConfigKeys,
  presets: {
    tiny: { blockChannels: "32,32,64,64", layersPerBlock: 1, imageSize: 32, ...common },
    small: { blockChannels: "64,128,256,256", layersPerBlock: 2, imageSize: 256, ...common },
    /** SD 1.x/2.x VAE shapes (83.65 M parameters), for benchmarks. */
    sd: { blockChannels: "128,256,512,512", layersPerBlock: 2, imageSize: 512, ...common },
  },
  defaultPreset: "small",
  build(config, { seed }): ModelBundle {
    const dims = vaeDims(config);
    const latent = plantRedundancy(dims, seed);
    const values = (spec: ParameterSpec): Float32Array => {
      switch (spec.name) {
        case "quant_conv.weight":
          return latent.quantWeight;
        case "quant_conv.bias":
          return latent.quantBias;
        case "post_quant_conv.weight":
          return latent.postQuantWeight;
        case "post_quant_conv.bias":
          return latent.postQuantBias;
        default:
          return initialValues(spec, seed);
      }
    };
    const blocks = dims.channels.length;
    const metadata: VaeMetadata & Record<string, unknown> = {
      architecture: "AutoencoderKL",
      config: { ...config },
      vaeConfig: {
        _class_name: "AutoencoderKL",
        act_fn: "silu",
        block_out_channels: [...dims.channels],
        down_block_types: Array<string>(blocks).fill("DownEncoderBlock2D"),
        up_block_types: Array<string>(blocks).fill("UpDecoderBlock2D"),
        in_channels: IMAGE_CHANNELS,
        out_channels: IMAGE_CHANNELS,
        latent_channels: dims.latentChannels,
        layers_per_block: dims.layersPerBlock,
        norm_num_groups: dims.groups,
        sample_size: dims.imageSize,
        scaling_factor: dims.scalingFactor,
        force_upcast: true,
        use_quant_conv: true,
        use_post_quant_conv: true,
        mid_block_add_attention: true,
      },
      scalingFactor: dims.scalingFactor,
      latentChannels: dims.latentChannels,
      reduction: dims.reduction,
      latentRedundancy: {
        rank: dims.redundantRank,
        noise: dims.noise,
        mixing: latent.mixing,
        gains: latent.gains,
        description: describe(dims.latentChannels, dims.redundantRank, dims.noise),
      },
    };
    return {
      components: new Map([
        ["vae_encoder", buildVaeEncoder(dims, values)],
        ["vae_decoder", buildVaeDecoder(dims, values)],
      ]),
      metadata,
    };
  },
});

function describe(channels: number, rank: number, noise: number): string {
  if (rank === channels)
    return `no planted redundancy: all ${channels} latent directions carry the image`;
  return (
    `the posterior mean (first ${channels} channels of latent_parameters) is M·z + n: z has ${rank} ` +
    `independent directions, M is the ${channels}×${rank} mixing matrix (orthonormal columns), n lies ` +
    `in the ${channels - rank} directions orthogonal to M at ${noise} times the amplitude; the decoder ` +
    `reads the latent only through Mᵀ, so a PCA reduction to ${rank} channels changes the decoded ` +
    `image by about noise² (relative L2) and one to fewer channels by the dropped directions' share`
  );
}
