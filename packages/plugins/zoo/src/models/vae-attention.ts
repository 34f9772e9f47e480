import { DataType, Tensor, type Value } from "@lathe/core";
import type { TorchScriptWriter } from "../torchscript.js";
import { groupNorm, linear, type VaeContext } from "./vae-modules.js";

/** What torch writes for an open-ended slice (`Slice(shape, [-1], [INT64_MAX])`). */
const INT64_MAX = 9223372036854775807n;

/** The VAE mid block's attention: `in_channels // attention_head_dim` = 1 head over all pixels. */
const HEADS = 1;

/**
 * diffusers' mid-block `Attention` (residual_connection, rescale_output_factor 1.0, group_norm)
 * run by `AttnProcessor2_0`, traced with torch ≥ 2.1 so that
 * `F.scaled_dot_product_attention` goes through the opset-14 symbolic. Node for node:
 *
 * - `batch_size, channel, height, width = hidden_states.shape`: a Shape → Gather per dim;
 *   `view(batch, channel, height * width).transpose(1, 2)`;
 * - `batch_size, sequence_length, _ = hidden_states.shape`: only the batch survives;
 * - `group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)`: the exporter's peephole cancels
 *   the two back-to-back transposes, so the GroupNorm reads the view directly;
 * - `to_q`, `to_k`, `to_v`; `head_dim = key.shape[-1] // heads` (`floor_divide`: Div, Cast, Cast);
 * - `view(batch, -1, heads, head_dim).transpose(1, 2)` per projection; the key's transpose and
 *   the symbolic's `key.transpose(-2, -1)` fuse into one Transpose(perm [0, 2, 3, 1]);
 * - the symbolic: scale = Cast(1 / Sqrt(Cast(Slice(Shape(q), −1)))), q·√scale, kᵀ·√scale,
 *   MatMul, Softmax(−1), MatMul with v;
 * - `transpose(1, 2).reshape(batch, -1, heads * head_dim)`, `.to(query.dtype)` (a Cast kept by
 *   the exporter), `to_out.0`, `transpose(-1, -2).reshape(batch, channel, height, width)`,
 *   `+ residual`, `/ rescale_output_factor`.
 */
export function midBlockAttention(ctx: VaeContext, scope: string, name: string, x: Value): Value {
  const { t } = ctx;
  return t.in(scope, () => {
    const batch = t.size(x, 0);
    const channel = t.size(x, 1);
    const height = t.size(x, 2);
    const width = t.size(x, 3);
    const pixels = t.op("Mul", [height, width]);
    const flat = t.reshape(x, t.sizeList([batch, channel, pixels]));
    const tokens = t.transpose(flat, [0, 2, 1]);
    const rows = t.size(tokens, 0);

    const normed = groupNorm(ctx, `${scope}/group_norm`, `${name}.group_norm`, flat, 3);
    const states = t.transpose(normed, [0, 2, 1]);
    const query = linear(ctx, `${scope}/to_q`, `${name}.to_q`, states);
    const key = linear(ctx, `${scope}/to_k`, `${name}.to_k`, states);
    const value = linear(ctx, `${scope}/to_v`, `${name}.to_v`, states);

    const headDim = truncDivide(t, t.size(key, 2), HEADS);
    const headsView = (projection: Value) =>
      t.reshape(projection, t.sizeList([rows, -1, HEADS, headDim]));
    const queryHeads = t.transpose(headsView(query), [0, 2, 1, 3]);
    const keyHeads = headsView(key);
    const valueHeads = t.transpose(headsView(value), [0, 2, 1, 3]);

    const context = scaledDotProductAttention(t, queryHeads, keyHeads, valueHeads);
    const merged = t.reshape(
      t.transpose(context, [0, 2, 1, 3]),
      t.sizeList([rows, -1, t.op("Mul", [headDim, t.intScalar(HEADS)])]),
    );
    const projected = linear(ctx, `${scope}/to_out.0`, `${name}.to_out.0`, t.castFloat(merged));
    const image = t.reshape(
      t.transpose(projected, [0, 2, 1]),
      t.sizeList([rows, channel, height, width]),
    );
    return t.op("Div", [t.op("Add", [image, x]), t.floatScalar(1)]);
  });
}

/**
 * The opset-14 `scaled_dot_product_attention` symbolic without mask or dropout; `keyHeads` is
 * the key before its `transpose(1, 2)`, which the exporter fuses with the symbolic's own.
 */
function scaledDotProductAttention(
  t: TorchScriptWriter,
  queryHeads: Value,
  keyHeads: Value,
  valueHeads: Value,
): Value {
  const lastDim = t.op("Slice", [t.op("Shape", [queryHeads]), t.ints([-1]), t.ints([INT64_MAX])]);
  const embedding = t.castFloat(lastDim);
  const one = t.constant(Tensor.fromArray(DataType.FLOAT, [1], [1]));
  const scale = t.castFloat(t.op("Div", [one, t.op("Sqrt", [embedding])]));
  const keyTransposed = t.transpose(keyHeads, [0, 2, 3, 1]);
  const scaledQuery = t.op("Mul", [queryHeads, t.op("Sqrt", [scale])]);
  const scaledKey = t.op("Mul", [keyTransposed, t.op("Sqrt", [scale])]);
  const scores = t.op("MatMul", [scaledQuery, scaledKey]);
  const weights = t.op("Softmax", [scores], { axis: -1 });
  return t.op("MatMul", [weights, valueHeads]);
}

/** `size // n` on a traced size: the opset-9 `floor_divide` symbolic truncates (Div, Cast, Cast). */
function truncDivide(t: TorchScriptWriter, size: Value, n: number): Value {
  const quotient = t.op("Div", [size, t.intScalar(n)]);
  const truncated = t.op("Cast", [quotient], { to: DataType.INT64 });
  return t.op("Cast", [truncated], { to: DataType.INT64 });
}
