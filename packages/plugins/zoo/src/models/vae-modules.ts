import { type Builder, DataType, Tensor, type Value } from "@lathe/core";
import type { TorchScriptWriter } from "../torchscript.js";
import type { ComponentParameters } from "./vae-parameters.js";

/** What every module writer needs: the node writer, the builder and the component's parameters. */
export interface VaeContext {
  readonly t: TorchScriptWriter;
  readonly b: Builder;
  readonly params: ComponentParameters;
  readonly groups: number;
  readonly eps: number;
}

/**
 * `nn.GroupNorm` as the opset-9 `group_norm` symbolic writes it (GroupNormalization is opset
 * 18): x.view(N, groups, −1) → InstanceNormalization with unit scale and zero bias (Constant
 * nodes) → back to x's shape → Mul(weight) → Add(bias), the affine folded to [C, 1, 1]
 * (or [C, 1] for the attention's 3-D input). onnxruntime's FusionGroupNorm matches this form.
 */
export function groupNorm(
  ctx: VaeContext,
  scope: string,
  name: string,
  x: Value,
  rank: number,
): Value {
  const { t, params, groups, eps } = ctx;
  return t.in(scope, () => {
    const grouped = t.reshape(x, t.ints([0, groups, -1]));
    const ones = t.constant(
      Tensor.fromArray(DataType.FLOAT, [groups], new Float32Array(groups).fill(1)),
    );
    const zeros = t.constant(Tensor.fromArray(DataType.FLOAT, [groups], new Float32Array(groups)));
    const normalized = t.op("InstanceNormalization", [grouped, ones, zeros], { epsilon: eps });
    const restored = t.reshape(normalized, t.op("Shape", [x]));
    const channels = params.values(`${name}.weight`).spec.shape[0] as number;
    const affine = [channels, ...Array<number>(rank - 2).fill(1)];
    const scaled = t.op("Mul", [restored, params.foldedReshape("Mul", `${name}.weight`, affine)]);
    return t.op("Add", [scaled, params.foldedReshape("Add", `${name}.bias`, affine)]);
  });
}

/** `nn.SiLU` through the opset-9 symbolic: x · Sigmoid(x). */
export function silu(t: TorchScriptWriter, scope: string, x: Value): Value {
  return t.in(scope, () => t.op("Mul", [x, t.op("Sigmoid", [x])]));
}

/** `nn.Conv2d` with square kernel, stride and padding. */
export function conv2d(
  ctx: VaeContext,
  scope: string,
  name: string,
  x: Value,
  shape: { kernel: number; stride?: number; padding?: number },
): Value {
  const { kernel, stride = 1, padding = 0 } = shape;
  return ctx.t.in(scope, () =>
    ctx.t.op("Conv", [x, ctx.params.kept(`${name}.weight`), ctx.params.kept(`${name}.bias`)], {
      dilations: [1, 1],
      group: 1,
      kernel_shape: [kernel, kernel],
      pads: [padding, padding, padding, padding],
      strides: [stride, stride],
    }),
  );
}

/**
 * `nn.Linear` on a 3-D input through the opset-9 `linear` symbolic: MatMul with the folded
 * transposed weight, then `Add(bias, ·)` (bias first, as `add(g, bias, output)` writes it).
 */
export function linear(ctx: VaeContext, scope: string, name: string, x: Value): Value {
  const { t, params } = ctx;
  return t.in(scope, () => {
    const product = t.op("MatMul", [x, params.foldedTranspose("MatMul", `${name}.weight`)]);
    return t.op("Add", [params.kept(`${name}.bias`), product]);
  });
}

/**
 * diffusers' `ResnetBlock2D` without a time embedding: norm1 → SiLU → conv1 → norm2 → SiLU →
 * (dropout) → conv2, a 1×1 `conv_shortcut` when the channels change, then
 * `(input + hidden) / output_scale_factor`: the Div by 1.0 stays in the export (onnxruntime's
 * UNet/VAE optimizer removes it as "Div by 1").
 */
export function resnetBlock(
  ctx: VaeContext,
  scope: string,
  name: string,
  x: Value,
  channels: readonly [number, number],
): Value {
  const { t } = ctx;
  let h = groupNorm(ctx, `${scope}/norm1`, `${name}.norm1`, x, 4);
  h = silu(t, `${scope}/nonlinearity`, h);
  h = conv2d(ctx, `${scope}/conv1`, `${name}.conv1`, h, { kernel: 3, padding: 1 });
  h = groupNorm(ctx, `${scope}/norm2`, `${name}.norm2`, h, 4);
  h = silu(t, `${scope}/nonlinearity`, h);
  h = conv2d(ctx, `${scope}/conv2`, `${name}.conv2`, h, { kernel: 3, padding: 1 });
  const shortcut =
    channels[0] === channels[1]
      ? x
      : conv2d(ctx, `${scope}/conv_shortcut`, `${name}.conv_shortcut`, x, { kernel: 1 });
  return t.in(scope, () => t.op("Div", [t.op("Add", [shortcut, h]), t.floatScalar(1)]));
}

/**
 * diffusers' `Downsample2D` with `padding=0` (the VAE encoder's): `F.pad(x, (0, 1, 0, 1))`, its
 * pad list folded to `[0, 0, 0, 0, 0, 0, 1, 1]` and the fill value a Constant, then a 3×3
 * stride-2 conv.
 */
export function downsample(ctx: VaeContext, scope: string, name: string, x: Value): Value {
  const { t, params } = ctx;
  const padded = t.in(scope, () => {
    const pads = params.foldedInts("Pad", [0, 0, 0, 0, 0, 0, 1, 1]);
    return t.op("Pad", [x, pads, t.floatScalar(0)], { mode: "constant" });
  });
  return conv2d(ctx, `${scope}/conv`, `${name}.conv`, padded, { kernel: 3, stride: 2 });
}

/**
 * diffusers' `Upsample2D`: `F.interpolate(x, scale_factor=2.0, mode="nearest")` as the opset-11
 * `upsample_nearest2d` symbolic writes it (Resize with an empty roi and folded scales
 * [1, 1, 2, 2], asymmetric / floor), then a 3×3 conv.
 */
export function upsample(ctx: VaeContext, scope: string, name: string, x: Value): Value {
  const { b, params } = ctx;
  const scales = params.foldedFloats("Resize", [1, 1, 2, 2]);
  const resized = b.node(
    "Resize",
    [x, undefined, scales],
    {
      coordinate_transformation_mode: "asymmetric",
      cubic_coeff_a: -0.75,
      mode: "nearest",
      nearest_mode: "floor",
    },
    { name: `${scope}/Resize`, outputs: [`${scope}/Resize_output_0`] },
  ).output;
  return conv2d(ctx, `${scope}/conv`, `${name}.conv`, resized, { kernel: 3, padding: 1 });
}
