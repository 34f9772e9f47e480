import { IMAGE_CHANNELS, type VaeDims } from "./vae-config.js";

/** How a parameter is used, which decides its initialization and whether the exporter folds it. */
export type ParameterRole =
  | "conv.weight"
  | "conv.bias"
  | "norm.weight"
  | "norm.bias"
  | "linear.weight"
  | "linear.bias";

export interface ParameterSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly role: ParameterRole;
  /** Inputs per output unit (PyTorch's fan_in for the default initialization). */
  readonly fanIn: number;
}

/**
 * Every parameter of diffusers' AutoencoderKL in `state_dict()` order (module registration
 * order: encoder, decoder, quant_conv, post_quant_conv; in each coder `down_blocks`/`up_blocks`
 * before `mid_block`, in the mid block `attentions` before `resnets`).
 */
export function vaeStateDict(dims: VaeDims): ParameterSpec[] {
  const specs: ParameterSpec[] = [];
  const conv = (name: string, inC: number, outC: number, kernel: number) => {
    const fanIn = inC * kernel * kernel;
    specs.push({
      name: `${name}.weight`,
      shape: [outC, inC, kernel, kernel],
      role: "conv.weight",
      fanIn,
    });
    specs.push({ name: `${name}.bias`, shape: [outC], role: "conv.bias", fanIn });
  };
  const norm = (name: string, c: number) => {
    specs.push({ name: `${name}.weight`, shape: [c], role: "norm.weight", fanIn: c });
    specs.push({ name: `${name}.bias`, shape: [c], role: "norm.bias", fanIn: c });
  };
  const linear = (name: string, c: number) => {
    specs.push({ name: `${name}.weight`, shape: [c, c], role: "linear.weight", fanIn: c });
    specs.push({ name: `${name}.bias`, shape: [c], role: "linear.bias", fanIn: c });
  };
  const resnet = (name: string, inC: number, outC: number) => {
    norm(`${name}.norm1`, inC);
    conv(`${name}.conv1`, inC, outC, 3);
    norm(`${name}.norm2`, outC);
    conv(`${name}.conv2`, outC, outC, 3);
    if (inC !== outC) conv(`${name}.conv_shortcut`, inC, outC, 1);
  };
  const midBlock = (name: string, c: number) => {
    const attention = `${name}.attentions.0`;
    norm(`${attention}.group_norm`, c);
    for (const projection of ["to_q", "to_k", "to_v", "to_out.0"])
      linear(`${attention}.${projection}`, c);
    resnet(`${name}.resnets.0`, c, c);
    resnet(`${name}.resnets.1`, c, c);
  };

  const { channels, latentChannels: latent } = dims;
  const last = channels.length - 1;
  const top = channels[last] as number;

  conv("encoder.conv_in", IMAGE_CHANNELS, channels[0] as number, 3);
  encoderBlocks(dims).forEach((block, i) => {
    for (const [j, [inC, outC]] of block.resnets.entries())
      resnet(`encoder.down_blocks.${i}.resnets.${j}`, inC, outC);
    if (block.downsample)
      conv(`encoder.down_blocks.${i}.downsamplers.0.conv`, block.out, block.out, 3);
  });
  midBlock("encoder.mid_block", top);
  norm("encoder.conv_norm_out", top);
  conv("encoder.conv_out", top, 2 * latent, 3);

  conv("decoder.conv_in", latent, top, 3);
  decoderBlocks(dims).forEach((block, i) => {
    for (const [j, [inC, outC]] of block.resnets.entries())
      resnet(`decoder.up_blocks.${i}.resnets.${j}`, inC, outC);
    if (block.upsample) conv(`decoder.up_blocks.${i}.upsamplers.0.conv`, block.out, block.out, 3);
  });
  midBlock("decoder.mid_block", top);
  norm("decoder.conv_norm_out", channels[0] as number);
  conv("decoder.conv_out", channels[0] as number, IMAGE_CHANNELS, 3);

  conv("quant_conv", 2 * latent, 2 * latent, 1);
  conv("post_quant_conv", latent, latent, 1);
  return specs;
}

export interface EncoderBlock {
  /** [in, out] channels of each ResNet block. */
  readonly resnets: readonly (readonly [number, number])[];
  readonly out: number;
  readonly downsample: boolean;
}

export interface DecoderBlock {
  readonly resnets: readonly (readonly [number, number])[];
  readonly out: number;
  readonly upsample: boolean;
}

/** `DownEncoderBlock2D`s as diffusers' Encoder wires them: every block but the last downsamples. */
export function encoderBlocks(dims: VaeDims): EncoderBlock[] {
  const { channels, layersPerBlock } = dims;
  return channels.map((out, i) => {
    const inC = i === 0 ? out : (channels[i - 1] as number);
    const resnets = Array.from(
      { length: layersPerBlock },
      (_, j) => [j === 0 ? inC : out, out] as const,
    );
    return { resnets, out, downsample: i < channels.length - 1 };
  });
}

/** `UpDecoderBlock2D`s over the reversed channels, each one ResNet block longer than the encoder's. */
export function decoderBlocks(dims: VaeDims): DecoderBlock[] {
  const reversed = [...dims.channels].reverse();
  return reversed.map((out, i) => {
    const inC = i === 0 ? out : (reversed[i - 1] as number);
    const resnets = Array.from(
      { length: dims.layersPerBlock + 1 },
      (_, j) => [j === 0 ? inC : out, out] as const,
    );
    return { resnets, out, upsample: i < reversed.length - 1 };
  });
}
