import { DataType, Tensor, type Value } from "@lathe/core";
import type { TorchScriptWriter } from "./llama-torchscript.js";

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
  const { attentionMask, sequenceLength: queryLength } = inputs;
  // key_value_length = input_shape[-1] + past_key_values_length
  const keyValueLength = t.op("Add", [queryLength, inputs.pastLength ?? t.intScalar(0)]);
  const batch = t.size(attentionMask, 0);
  const pastLength = t.op("Sub", [keyValueLength, queryLength]);
  const causal = makeCausalMask(t, batch, queryLength, pastLength);
  return t.op("Add", [expandMask(t, attentionMask, queryLength), causal]);
}

/** `_make_causal_mask`: 0 on and below the diagonal, float32 min above. */
function makeCausalMask(t: TorchScriptWriter, batch: Value, target: Value, past: Value): Value {
  const full = t.op("ConstantOfShape", [t.intList([target, target])], {
    value: Tensor.fromArray(DataType.FLOAT, [1], [FLOAT32_MIN]),
  });
  const length = t.size(full, 1);
  const positions = t.op("Range", [t.intScalar(0), length, t.intScalar(1)]);
  const nextPositions = t.view(t.op("Add", [positions, t.intScalar(1)]), [length, 1]);
  const visible = t.op("Less", [positions, nextPositions]);
  const mask = t.op("Where", [visible, t.floatScalar(0), full]);
  const mask4d = t.unsqueeze(t.unsqueeze(mask, 0), 1);
  const total = t.op("Add", [target, past]);
  return t.expand(mask4d, [batch, 1, target, total]);
}

/** `_expand_mask`: [batch, total] 1/0 → [batch, 1, target, total] of 0 / float32 min. */
function expandMask(t: TorchScriptWriter, attentionMask: Value, target: Value): Value {
  const batch = t.size(attentionMask, 0);
  const source = t.size(attentionMask, 1);
  const mask4d = t.unsqueeze(t.unsqueeze(attentionMask, 1), 2);
  const expanded = t.op("Cast", [t.expand(mask4d, [batch, 1, target, source])], {
    to: DataType.FLOAT,
  });
  const inverted = t.op("Sub", [t.floatScalar(1), expanded]);
  const isMasked = t.op("Cast", [inverted], { to: DataType.BOOL });
  return t.op("Where", [isMasked, t.floatScalar(FLOAT32_MIN), inverted]);
}
