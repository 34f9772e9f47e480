import type { Value } from "@lathe/core";
import type { TorchScriptWriter } from "../torchscript.js";
import { NORM_EPS, type ResnetPlan } from "./unet-config.js";
import { conv2d, gemm, groupNorm, moduleScope, silu, upsampleNearest2x } from "./unet-ops.js";
import type { UnetParameters } from "./unet-parameters.js";

/**
 * SiLU of the time embedding, which every ResNet computes from the same `emb`: the exporter's
 * CSE keeps only the first call (down_blocks.0's first ResNet, its second `nonlinearity` call)
 * and every `time_emb_proj` reads it.
 */
export class ActivatedTimeEmbedding {
  readonly #t: TorchScriptWriter;
  readonly #emb: Value;
  #value: Value | undefined;

  constructor(t: TorchScriptWriter, emb: Value) {
    this.#t = t;
    this.#emb = emb;
  }

  /** The shared value; `created` tells whether this call wrote it under `scope`. */
  get(scope: string): { value: Value; created: boolean } {
    if (this.#value) return { value: this.#value, created: false };
    this.#value = silu(this.#t, scope, this.#emb);
    return { value: this.#value, created: true };
  }
}

/**
 * diffusers 0.25 `ResnetBlock2D` (`time_embedding_norm="default"`, output_scale_factor 1):
 * GroupNorm → SiLU → conv1, plus `time_emb_proj(silu(temb))[:, :, None, None]`, GroupNorm →
 * SiLU → (dropout) → conv2, a 1×1 conv_shortcut when the width changes, and the residual sum.
 * The one `nonlinearity` module is called up to three times: torch names the calls'
 * scopes `nonlinearity`, `nonlinearity_1`, `nonlinearity_2`.
 */
export function resnetBlock(
  t: TorchScriptWriter,
  p: UnetParameters,
  path: string,
  x: Value,
  temb: ActivatedTimeEmbedding,
  plan: ResnetPlan,
  groups: number,
): Value {
  const scope = moduleScope(path);
  const norm1 = groupNorm(t, `${scope}/norm1`, x, p.groupNorm(`${path}.norm1`), groups, NORM_EPS);
  const act1 = silu(t, `${scope}/nonlinearity`, norm1);
  const conv1 = conv2d(t, `${scope}/conv1`, act1, p.affine(`${path}.conv1`), 3, { padding: 1 });
  const activated = temb.get(`${scope}/nonlinearity_1`);
  const projected = gemm(
    t,
    `${scope}/time_emb_proj`,
    activated.value,
    p.affine(`${path}.time_emb_proj`),
  );
  const withTime = t.in(scope, () => {
    const broadcast = t.unsqueeze(t.unsqueeze(projected, 2), 3);
    return t.op("Add", [conv1, broadcast]);
  });
  const norm2 = groupNorm(
    t,
    `${scope}/norm2`,
    withTime,
    p.groupNorm(`${path}.norm2`),
    groups,
    NORM_EPS,
  );
  const act2 = silu(t, `${scope}/nonlinearity_${activated.created ? 2 : 1}`, norm2);
  const conv2 = conv2d(t, `${scope}/conv2`, act2, p.affine(`${path}.conv2`), 3, { padding: 1 });
  const shortcut =
    plan.inChannels === plan.outChannels
      ? x
      : conv2d(t, `${scope}/conv_shortcut`, x, p.affine(`${path}.conv_shortcut`), 1, {
          padding: 0,
        });
  return t.in(scope, () => t.op("Add", [shortcut, conv2]));
}

/** `Downsample2D(use_conv=True, padding=1)`: a 3×3 stride-2 conv. */
export function downsample(t: TorchScriptWriter, p: UnetParameters, path: string, x: Value): Value {
  const conv = `${path}.conv`;
  return conv2d(t, moduleScope(conv), x, p.affine(conv), 3, { stride: 2, padding: 1 });
}

/** `Upsample2D(use_conv=True)` without an output size: nearest ×2 Resize, then a 3×3 conv. */
export function upsample(t: TorchScriptWriter, p: UnetParameters, path: string, x: Value): Value {
  const resized = t.in(moduleScope(path), () => upsampleNearest2x(t, x));
  const conv = `${path}.conv`;
  return conv2d(t, moduleScope(conv), resized, p.affine(conv), 3, { padding: 1 });
}
