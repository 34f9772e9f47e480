import { DataType, Tensor, type Value } from "@lathe/core";
import type { TorchScriptWriter } from "../torchscript.js";
import type { Gpt2Dims } from "./gpt2-config.js";
import { conv1d } from "./gpt2-modules.js";

/** torch.finfo(torch.float32).min, GPT-2's mask value. */
export const FLOAT32_MIN = -3.4028234663852886e38;

/**
 * Constants every block reads. Each is written once, where block 0 first uses it: the
 * exporter's CSE merges the blocks' identical copies, as the dump of a real export shows.
 */
export interface SharedAttentionInputs {
  /** `(1 - attention_mask[:, None, None, :]) * min`, [batch, 1, 1, past + sequence]. */
  attentionMask: Value;
  /** GPT2Attention's non-persistent `bias` buffer: tril(ones(P, P)) as bool [1, 1, P, P]. */
  causalBuffer: () => Value;
  /** The traced `torch.full([], finfo.min)`. */
  maskValue: () => Value;
}

export interface AttentionParams {
  attn: { weight: Value; bias: Value };
  proj: { weight: Value; bias: Value };
}

export interface KeyValue {
  key: Value;
  value: Value;
}

/** The shared constants, created on first use. */
export function sharedAttentionInputs(
  t: TorchScriptWriter,
  positions: number,
  attentionMask: Value,
): SharedAttentionInputs {
  let causal: Value | undefined;
  let maskValue: Value | undefined;
  return {
    attentionMask,
    causalBuffer: () => {
      causal ??= t.unscopedConstant(lowerTriangle(positions), "Slice");
      return causal;
    },
    maskValue: () => {
      maskValue ??= t.unscopedConstant(
        Tensor.fromArray(DataType.FLOAT, [], [FLOAT32_MIN]),
        "Where",
      );
      return maskValue;
    },
  };
}

/**
 * transformers 4.35 `GPT2Attention.forward` with eager `_attn`, as traced: c_attn, `Split`
 * into q/k/v, `_split_heads` (view + permute), the past concatenated on axis -2, scores
 * divided by `torch.full([], value.size(-1) ** 0.5)`, the causal mask sliced from the
 * `bias` buffer by key/query lengths and applied with `Where`, the additive padding mask,
 * `Softmax`, `_merge_heads` and c_proj.
 */
export function gpt2Attention(
  t: TorchScriptWriter,
  scope: string,
  dims: Gpt2Dims,
  shared: SharedAttentionInputs,
  params: AttentionParams,
  hidden: Value,
  past: KeyValue | undefined,
): { output: Value; present: KeyValue | undefined } {
  const { hidden: hiddenSize, heads, headDim } = dims;
  return t.in(scope, () => {
    const qkv = conv1d(t, `${scope}/c_attn`, hidden, params.attn, 3 * hiddenSize);
    const splitSizes = t.ints([hiddenSize, hiddenSize, hiddenSize]);
    const [q, k, v] = t.ops("Split", [qkv, splitSizes], { axis: 2 }, 3) as [Value, Value, Value];
    const splitHeads = (x: Value) => {
      const batch = t.size(x, 0);
      const sequence = t.size(x, 1);
      const viewed = t.view(x, [batch, sequence, heads, headDim]);
      return { viewed, heads: t.transpose(viewed, [0, 2, 1, 3]) };
    };
    const query = splitHeads(q).heads;
    const keyHeads = splitHeads(k);
    const valueHeads = splitHeads(v);
    let key = keyHeads.heads;
    let value = valueHeads.heads;
    if (past) {
      key = t.op("Concat", [past.key, key], { axis: -2 });
      value = t.op("Concat", [past.value, value], { axis: -2 });
    }
    // key.transpose(-1, -2): the exporter's peephole folds it into the head permute when it
    // reads one directly, so without a past it permutes the viewed key [0, 2, 3, 1]
    const keyT = past ? t.transpose(key, [0, 1, 3, 2]) : t.transpose(keyHeads.viewed, [0, 2, 3, 1]);
    const scores = t.op("MatMul", [query, keyT]);

    const headSize = t.size(value, -1);
    const root = t.op("Pow", [t.castFloat(headSize), t.floatScalar(0.5)]);
    // torch.full([], traced): zeros of shape [] plus the value
    const emptyShape = t.constant(Tensor.fromArray(DataType.INT64, [0], []));
    const zero = t.op("ConstantOfShape", [emptyShape], {
      value: Tensor.fromArray(DataType.FLOAT, [1], [0]),
    });
    const scaled = t.op("Div", [scores, t.op("Add", [zero, root])]);

    // causal_mask = bias[:, :, key_length - query_length : key_length, :key_length]
    const queryLength = t.size(query, -2);
    const keyLength = t.size(key, -2);
    const start = t.op("Sub", [keyLength, queryLength]);
    const rows = t.slice(shared.causalBuffer(), 2, start, keyLength);
    const causal = t.slice(rows, 3, undefined, keyLength);
    const maskValue = shared.maskValue();
    const masked = t.op("Where", [causal, t.castFloat(scaled), maskValue]);
    const withPadding = t.op("Add", [masked, shared.attentionMask]);
    // softmax(...).type(value.dtype): kept as a Cast to float
    const probs = t.castFloat(t.op("Softmax", [withPadding], { axis: -1 }));
    const context = t.op("MatMul", [probs, value]);

    const merged = t.transpose(context, [0, 2, 1, 3]);
    const batch = t.size(merged, 0);
    const sequence = t.size(merged, 1);
    const flat = t.view(merged, [batch, sequence, hiddenSize]);
    const output = conv1d(t, `${scope}/c_proj`, flat, params.proj, hiddenSize);
    return { output, present: past ? { key, value } : undefined };
  });
}

function lowerTriangle(positions: number): Tensor {
  const bytes = new Uint8Array(positions * positions);
  for (let row = 0; row < positions; row++)
    bytes.fill(1, row * positions, row * positions + row + 1);
  return Tensor.fromBytes(DataType.BOOL, [1, 1, positions, positions], bytes);
}
