import type { UnetDims } from "./unet-config.js";
import { LATENT_CHANNELS } from "./unet-config.js";

/** How torch initialises a parameter by default (diffusers adds no init of its own). */
export type ParameterInit =
  /** Conv2d / Linear weight and bias: U(±1/√fan_in), what kaiming_uniform_(a=√5) amounts to. */
  { kind: "uniform"; fanIn: number } | { kind: "ones" } | { kind: "zeros" };

/**
 * What constant folding makes of a parameter: a 3-d Linear's weight becomes `W.T`
 * (`onnx::MatMul_<id>`), a GroupNorm's weight and bias their `Unsqueeze` to [C, 1, 1]
 * (`onnx::Mul_<id>`, `onnx::Add_<id>`). The original state-dict entry leaves the graph.
 */
export type Folding = "MatMul" | "Mul" | "Add";

export interface StateDictEntry {
  name: string;
  dims: number[];
  init: ParameterInit;
  folded?: Folding;
}

/**
 * UNet2DConditionModel's state dict in its order (module registration order: the
 * `down_blocks` and `up_blocks` lists are registered before `mid_block`, and each cross-attention
 * block registers `attentions` before `resnets`), marking what the exporter folds.
 */
export function unetStateDict(dims: UnetDims): StateDictEntry[] {
  const out: StateDictEntry[] = [];
  const c0 = dims.channels[0] as number;
  const t = dims.timeEmbedDim;

  const conv = (prefix: string, outCh: number, inCh: number, kernel: number) => {
    const fanIn = inCh * kernel * kernel;
    out.push({
      name: `${prefix}.weight`,
      dims: [outCh, inCh, kernel, kernel],
      init: uniform(fanIn),
    });
    out.push({ name: `${prefix}.bias`, dims: [outCh], init: uniform(fanIn) });
  };
  /** nn.Linear on 2-d input: exported as Gemm on the stored weight. */
  const gemm = (prefix: string, outF: number, inF: number) => {
    out.push({ name: `${prefix}.weight`, dims: [outF, inF], init: uniform(inF) });
    out.push({ name: `${prefix}.bias`, dims: [outF], init: uniform(inF) });
  };
  /** nn.Linear on 3-d input: MatMul on the folded transpose, then Add of the bias. */
  const matmul = (prefix: string, outF: number, inF: number, bias: boolean) => {
    out.push({ name: `${prefix}.weight`, dims: [outF, inF], init: uniform(inF), folded: "MatMul" });
    if (bias) out.push({ name: `${prefix}.bias`, dims: [outF], init: uniform(inF) });
  };
  const groupNorm = (prefix: string, channels: number) => {
    out.push({ name: `${prefix}.weight`, dims: [channels], init: { kind: "ones" }, folded: "Mul" });
    out.push({ name: `${prefix}.bias`, dims: [channels], init: { kind: "zeros" }, folded: "Add" });
  };
  const layerNorm = (prefix: string, channels: number) => {
    out.push({ name: `${prefix}.weight`, dims: [channels], init: { kind: "ones" } });
    out.push({ name: `${prefix}.bias`, dims: [channels], init: { kind: "zeros" } });
  };
  const attention = (prefix: string, channels: number, keyWidth: number) => {
    matmul(`${prefix}.to_q`, channels, channels, false);
    matmul(`${prefix}.to_k`, channels, keyWidth, false);
    matmul(`${prefix}.to_v`, channels, keyWidth, false);
    matmul(`${prefix}.to_out.0`, channels, channels, true);
  };
  const transformer = (prefix: string, channels: number) => {
    groupNorm(`${prefix}.norm`, channels);
    conv(`${prefix}.proj_in`, channels, channels, 1);
    for (let k = 0; k < dims.transformerLayers; k++) {
      const block = `${prefix}.transformer_blocks.${k}`;
      layerNorm(`${block}.norm1`, channels);
      attention(`${block}.attn1`, channels, channels);
      layerNorm(`${block}.norm2`, channels);
      attention(`${block}.attn2`, channels, dims.contextDim);
      layerNorm(`${block}.norm3`, channels);
      matmul(`${block}.ff.net.0.proj`, 8 * channels, channels, true);
      matmul(`${block}.ff.net.2`, channels, 4 * channels, true);
    }
    conv(`${prefix}.proj_out`, channels, channels, 1);
  };
  const resnet = (prefix: string, inCh: number, outCh: number) => {
    groupNorm(`${prefix}.norm1`, inCh);
    conv(`${prefix}.conv1`, outCh, inCh, 3);
    gemm(`${prefix}.time_emb_proj`, outCh, t);
    groupNorm(`${prefix}.norm2`, outCh);
    conv(`${prefix}.conv2`, outCh, outCh, 3);
    if (inCh !== outCh) conv(`${prefix}.conv_shortcut`, outCh, inCh, 1);
  };
  const block = (prefix: string, plan: UnetDims["down"][number], resample: string) => {
    if (plan.crossAttention)
      plan.resnets.forEach((_, j) => {
        transformer(`${prefix}.attentions.${j}`, plan.channels);
      });
    plan.resnets.forEach((r, j) => {
      resnet(`${prefix}.resnets.${j}`, r.inChannels, r.outChannels);
    });
    if (plan.resample) conv(`${prefix}.${resample}.0.conv`, plan.channels, plan.channels, 3);
  };

  conv("conv_in", c0, LATENT_CHANNELS, 3);
  gemm("time_embedding.linear_1", t, c0);
  gemm("time_embedding.linear_2", t, t);
  dims.down.forEach((plan, i) => {
    block(`down_blocks.${i}`, plan, "downsamplers");
  });
  dims.up.forEach((plan, i) => {
    block(`up_blocks.${i}`, plan, "upsamplers");
  });
  transformer("mid_block.attentions.0", dims.midChannels);
  resnet("mid_block.resnets.0", dims.midChannels, dims.midChannels);
  resnet("mid_block.resnets.1", dims.midChannels, dims.midChannels);
  groupNorm("conv_norm_out", c0);
  conv("conv_out", LATENT_CHANNELS, c0, 3);
  return out;
}

/** Parameters in the model (the state dict's element count). */
export function parameterCount(entries: readonly StateDictEntry[]): number {
  return entries.reduce((sum, e) => sum + e.dims.reduce((a, b) => a * b, 1), 0);
}

function uniform(fanIn: number): ParameterInit {
  return { kind: "uniform", fanIn };
}
