import type { Value } from "@lathe/core";
import type { TorchScriptWriter } from "../torchscript.js";
import { attention } from "./unet-attention.js";
import { NORM_EPS, TRANSFORMER_NORM_EPS } from "./unet-config.js";
import {
  constantChunk,
  conv2d,
  gelu,
  groupNorm,
  layerNorm,
  linear,
  moduleScope,
  view,
} from "./unet-ops.js";
import type { UnetParameters } from "./unet-parameters.js";

/** What every transformer of the UNet shares. */
export interface TransformerContext {
  t: TorchScriptWriter;
  p: UnetParameters;
  heads: number;
  groups: number;
  layers: number;
  /** `encoder_hidden_states`, the keys and values of every attn2. */
  context: Value;
  /** encoder_hidden_states.shape[0], written once (the exporter's CSE). */
  contextBatch: () => Value;
}

/**
 * diffusers 0.25 `Transformer2DModel` for continuous input with `use_linear_projection=False`
 * (SD 1.5): GroupNorm (eps 1e-6), proj_in as a 1×1 Conv, `permute(0, 2, 3, 1).reshape(batch,
 * height * width, inner_dim)`, the BasicTransformerBlocks, the reshape and permute back,
 * proj_out and the residual.
 */
export function transformer2d(ctx: TransformerContext, path: string, x: Value): Value {
  const { t, p } = ctx;
  const scope = moduleScope(path);
  return t.in(scope, () => {
    // batch, _, height, width = hidden_states.shape
    const batch = t.size(x, 0);
    const height = t.size(x, 2);
    const width = t.size(x, 3);
    const normed = groupNorm(
      t,
      `${scope}/norm`,
      x,
      p.groupNorm(`${path}.norm`),
      ctx.groups,
      TRANSFORMER_NORM_EPS,
    );
    const projected = conv2d(t, `${scope}/proj_in`, normed, p.affine(`${path}.proj_in`), 1, {
      padding: 0,
    });
    const innerDim = t.size(projected, 1);
    const channelsLast = t.transpose(projected, [0, 2, 3, 1]);
    const tokens = t.op("Mul", [height, width]);
    let states = view(t, channelsLast, [batch, tokens, innerDim]);
    for (let k = 0; k < ctx.layers; k++)
      states = basicTransformerBlock(ctx, `${path}.transformer_blocks.${k}`, states);
    const grid = view(t, states, [batch, height, width, innerDim]);
    const channelsFirst = t.transpose(grid, [0, 3, 1, 2]); // .contiguous() leaves no node
    const output = conv2d(t, `${scope}/proj_out`, channelsFirst, p.affine(`${path}.proj_out`), 1, {
      padding: 0,
    });
    return t.op("Add", [output, x]);
  });
}

/**
 * `BasicTransformerBlock` with `norm_type="layer_norm"`: LayerNorm → self-attention (attn1) →
 * residual, LayerNorm → cross-attention (attn2) → residual, LayerNorm → GEGLU feed-forward →
 * residual.
 */
function basicTransformerBlock(ctx: TransformerContext, path: string, x: Value): Value {
  const { t, p, heads } = ctx;
  const scope = moduleScope(path);
  const norm = (name: string, input: Value) =>
    layerNorm(t, `${scope}/${name}`, input, p.affine(`${path}.${name}`), NORM_EPS);
  const residual = (update: Value, input: Value) => t.in(scope, () => t.op("Add", [update, input]));

  const selfAttended = attention(
    t,
    `${scope}/attn1`,
    norm("norm1", x),
    p.attention(`${path}.attn1`),
    heads,
  );
  const afterSelf = residual(selfAttended, x);
  const crossAttended = attention(
    t,
    `${scope}/attn2`,
    norm("norm2", afterSelf),
    p.attention(`${path}.attn2`),
    heads,
    { context: ctx.context, contextBatch: ctx.contextBatch },
  );
  const afterCross = residual(crossAttended, afterSelf);
  const fed = feedForward(t, p, `${path}.ff`, norm("norm3", afterCross));
  return residual(fed, afterCross);
}

/**
 * `FeedForward` with `activation_fn="geglu"`: net.0 is GEGLU (proj to 2 × 4C, `chunk(2, -1)`,
 * hidden · gelu(gate)), net.1 a Dropout (no node), net.2 the projection back to C.
 */
function feedForward(t: TorchScriptWriter, p: UnetParameters, path: string, x: Value): Value {
  const scope = moduleScope(path);
  const projected = linear(t, `${scope}/net.0/proj`, x, p.linear(`${path}.net.0.proj`));
  const activated = t.in(`${scope}/net.0`, () => {
    const [states, gate] = constantChunk(t, projected, 2, -1) as [Value, Value];
    return t.op("Mul", [states, gelu(t, gate)]);
  });
  return linear(t, `${scope}/net.2`, activated, p.linear(`${path}.net.2`));
}
