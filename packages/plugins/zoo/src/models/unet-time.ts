import { DataType, Tensor, type Value } from "@lathe/core";
import { INT64_MAX, type TorchScriptWriter } from "../torchscript.js";
import { gemm, silu, staticSlice } from "./unet-ops.js";
import type { UnetParameters } from "./unet-parameters.js";

/** get_timestep_embedding's max_period. */
const MAX_PERIOD = 10000;

/**
 * The time path of UNet2DConditionModel.forward: `timesteps.expand(sample.shape[0])`, the
 * sinusoidal `time_proj`, `.to(sample.dtype)`, then `time_embedding` (linear_1 → SiLU →
 * linear_2). Returns `emb`, [batch, time_embed_dim].
 */
export function timeEmbedding(
  t: TorchScriptWriter,
  p: UnetParameters,
  sample: Value,
  timestep: Value,
  channels: number,
): Value {
  // the loop over sample.shape[-2:] records sample's sizes first; only the batch size is used
  const batch = t.size(sample, 0);
  const timesteps = t.expand(timestep, [batch]);
  const projected = t.in("/time_proj", () => sinusoidalEmbedding(t, timesteps, channels));
  const tEmb = t.castFloat(projected);
  const hidden = gemm(t, "/time_embedding/linear_1", tEmb, p.affine("time_embedding.linear_1"));
  const activated = silu(t, "/time_embedding/act", hidden);
  return gemm(t, "/time_embedding/linear_2", activated, p.affine("time_embedding.linear_2"));
}

/**
 * diffusers' `get_timestep_embedding` with SD's `flip_sin_to_cos=True`, `downscale_freq_shift=0`,
 * `scale=1`: [cos(t·f), sin(t·f)] with f_i = exp(−ln(10000)·i / half). torch's constant
 * propagation folds `exp(arange …)[None, :]` into one module-less `Constant` [1, half]; the peephole
 * drops `scale * emb` (×1).
 */
function sinusoidalEmbedding(t: TorchScriptWriter, timesteps: Value, channels: number): Value {
  const half = Math.floor(channels / 2);
  const column = t.castFloat(t.unsqueeze(timesteps, 1)); // timesteps[:, None].float()
  const frequencies = t.unscopedConstant(
    Tensor.fromArray(DataType.FLOAT, [1, half], frequencyTable(half)),
    "Mul",
  );
  const args = t.op("Mul", [column, frequencies]);
  const emb = t.op("Concat", [t.op("Sin", [args]), t.op("Cos", [args])], { axis: -1 });
  const cosines = staticSlice(t, emb, 1, half, INT64_MAX);
  const sines = staticSlice(t, emb, 1, 0, half);
  return t.op("Concat", [cosines, sines], { axis: -1 });
}

/** exp(−ln(max_period) · arange(half) / half), step by step in float32 as torch computes it. */
function frequencyTable(half: number): Float32Array {
  const out = new Float32Array(half);
  const logPeriod = Math.fround(-Math.log(MAX_PERIOD));
  for (let i = 0; i < half; i++) {
    const exponent = Math.fround(Math.fround(logPeriod * i) / half);
    out[i] = Math.exp(exponent);
  }
  return out;
}
