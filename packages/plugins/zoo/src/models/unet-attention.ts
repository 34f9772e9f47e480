import { DataType, Tensor, type Value } from "@lathe/core";
import { INT64_MAX, type TorchScriptWriter } from "../torchscript.js";
import { floorDivide, linear, view } from "./unet-ops.js";
import type { AttentionParams } from "./unet-parameters.js";

/**
 * diffusers 0.25 `Attention` with `AttnProcessor2_0`, as traced: to_q/to_k/to_v (bias-free),
 * `head_dim = key.shape[-1] // heads`, the three `view(batch, -1, heads, head_dim)` and
 * `transpose(1, 2)`, `F.scaled_dot_product_attention`, `transpose(1, 2).reshape(batch, -1,
 * heads * head_dim)`, `.to(query.dtype)` and to_out.0. `rescale_output_factor` (1.0) and
 * dropout leave no node: torch's peephole drops `x / 1`.
 *
 * `context` makes it cross-attention (attn2): keys and values come from `encoder_hidden_states`,
 * and the batch size from its shape, which the exporter's CSE computes once for all attn2
 * (`contextBatch` writes it on first use).
 */
export function attention(
  t: TorchScriptWriter,
  scope: string,
  hidden: Value,
  params: AttentionParams,
  heads: number,
  cross?: { context: Value; contextBatch: () => Value },
): Value {
  return t.in(scope, () => {
    // batch_size, sequence_length, _ = (encoder_)hidden_states.shape
    const batch = cross ? cross.contextBatch() : t.size(hidden, 0);
    const source = cross?.context ?? hidden;
    const query = linear(t, `${scope}/to_q`, hidden, { weightT: params.toQ });
    const key = linear(t, `${scope}/to_k`, source, { weightT: params.toK });
    const value = linear(t, `${scope}/to_v`, source, { weightT: params.toV });
    const headDim = floorDivide(t, t.size(key, 2), heads);
    const splitHeads = (x: Value) => view(t, x, [batch, -1, heads, headDim]);
    const q = t.transpose(splitHeads(query), [0, 2, 1, 3]);
    const k = splitHeads(key); // its transpose(1, 2) is fused into the symbolic's key transpose
    const v = t.transpose(splitHeads(value), [0, 2, 1, 3]);
    const context = scaledDotProductAttention(t, q, k, v);
    const merged = t.transpose(context, [0, 2, 1, 3]);
    const width = t.op("Mul", [headDim, t.intScalar(heads)]);
    const flat = t.castFloat(view(t, merged, [batch, -1, width]));
    return linear(t, `${scope}/to_out.0`, flat, params.toOut);
  });
}

/**
 * The opset-14 `scaled_dot_product_attention` symbolic of torch 2.1 (no mask, no dropout): the
 * scale 1/√head_dim computed from `Shape(query)` (without the trailing Cast torch 2.2 added),
 * √scale multiplied into Q and into Kᵀ before the MatMul, Softmax, MatMul with V. The key's
 * `transpose(1, 2)` and the symbolic's `transpose(-2, -1)` meet in the peephole as one
 * Transpose [0, 2, 3, 1] of the viewed key.
 */
function scaledDotProductAttention(
  t: TorchScriptWriter,
  query: Value,
  keyViewed: Value,
  value: Value,
): Value {
  const last = t.op("Slice", [t.op("Shape", [query]), t.ints([-1]), t.ints([INT64_MAX])]);
  const embedding = t.castFloat(last);
  const one = t.constant(Tensor.fromArray(DataType.FLOAT, [1], [1]));
  const scale = t.op("Div", [one, t.op("Sqrt", [embedding])]);
  const keyT = t.transpose(keyViewed, [0, 2, 3, 1]);
  const q = t.op("Mul", [query, t.op("Sqrt", [scale])]);
  const k = t.op("Mul", [keyT, t.op("Sqrt", [scale])]);
  const probs = t.op("Softmax", [t.op("MatMul", [q, k])], { axis: -1 });
  return t.op("MatMul", [probs, value]);
}
