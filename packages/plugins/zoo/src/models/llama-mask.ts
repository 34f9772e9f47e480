import { DataType, Tensor, type Value } from "@lathe/core";
import type { TorchScriptWriter } from "../torchscript.js";

/** torch.finfo(torch.float32).min, the additive mask value transformers uses. */
const FLOAT32_MIN = -3.4028234663852886e38;

export interface MaskInputs {
  /** attention_mask [batch, past + sequence], int64 1 = attend, 0 = padding. */
  attentionMask: Value;
  /** input_ids.shape[1], traced. */
  sequenceLength: Value;
  /** past_key_values[0][0].shape[2] when exporting with a cache; otherwise Python's 0. */
  pastLength: Value | undefined;
}

/**
 * transformers 4.35's `_prepare_4d_causal_attention_mask` as traced with a prompt longer than
 * one token and no past (the exported branch): `AttentionMaskConverter.to_4d` =
 * `_expand_mask(attention_mask) + _make_causal_mask(...)`, a [batch, 1, sequence, total]
 * additive float mask shared by every layer. Because the zero-past branch was traced, the
 * causal part has no columns for a past, so a cached model takes either an empty past or
 * one new token per step.
 */
export function causalAttentionMask(t: TorchScriptWriter, inputs: MaskInputs): Value {
  const { attentionMask, sequenceLength: queryLength, pastLength } = inputs;
  // key_value_length = input_shape[-1] + past_key_values_length: the JIT peephole drops `+ 0`
  const keyValueLength = pastLength ? t.op("Add", [queryLength, pastLength]) : queryLength;
  const batch = t.size(attentionMask, 0); // attention_mask_2d.shape[0]
  const past = t.op("Sub", [keyValueLength, queryLength]);
  const causal = makeCausalMask(t, batch, queryLength, past);
  return t.op("Add", [expandMask(t, attentionMask, queryLength), causal]);
}

/** `_make_causal_mask`: 0 on and below the diagonal, float32 min above. */
function makeCausalMask(t: TorchScriptWriter, batch: Value, target: Value, past: Value): Value {
  const full = t.op("ConstantOfShape", [t.sizeList([target, target])], {
    value: Tensor.fromArray(DataType.FLOAT, [1], [FLOAT32_MIN]),
  });
  const positions = arange(t, t.size(full, -1)); // torch.arange(mask.size(-1))
  const next = t.op("Add", [positions, t.intScalar(1)]);
  const column = t.view(next, [t.size(full, -1), 1]);
  const visible = t.op("Less", [positions, column]);
  const filled = maskedFill(t, full, visible, 0);
  const mask = t.castFloat(filled); // mask.to(dtype)
  const mask4d = t.unsqueeze(t.unsqueeze(mask, 0), 1);
  const total = t.op("Add", [target, past]);
  return t.expand(mask4d, [batch, 1, target, total]);
}

/** `_expand_mask`: [batch, total] 1/0 → [batch, 1, target, total] of 0 / float32 min. */
function expandMask(t: TorchScriptWriter, attentionMask: Value, target: Value): Value {
  const batch = t.size(attentionMask, 0);
  const source = t.size(attentionMask, 1);
  const mask4d = t.unsqueeze(t.unsqueeze(attentionMask, 1), 2);
  const expanded = t.castFloat(t.expand(mask4d, [batch, 1, target, source]));
  const inverted = t.op("Sub", [t.floatScalar(1), expanded]);
  return maskedFill(t, inverted, t.cast(inverted, DataType.BOOL), FLOAT32_MIN);
}

/** `torch.arange(end)` at opset 11+: the end cast to int64 (kept), `Range(0, end, 1)`. */
function arange(t: TorchScriptWriter, end: Value): Value {
  const limit = t.cast(end, DataType.INT64);
  return t.op("Range", [t.intScalar(0), limit, t.intScalar(1)]);
}

/** `x.masked_fill(mask, value)`: the symbolic casts the mask to bool again, then `Where`. */
function maskedFill(t: TorchScriptWriter, x: Value, mask: Value, value: number): Value {
  const condition = t.cast(mask, DataType.BOOL);
  return t.op("Where", [condition, t.floatScalar(value), x]);
}
