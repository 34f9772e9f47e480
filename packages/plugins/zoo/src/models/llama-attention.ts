import { DataType, Tensor, type Value } from "@lathe/core";
import { INT64_MAX, type TorchScriptWriter } from "../torchscript.js";
import type { LlamaDims } from "./llama-config.js";

/**
 * The rotary caches, written once: the exporter merges every layer's identical buffer into one
 * module-less constant, as it does GPT-2's `bias` buffers.
 */
export interface RotaryCaches {
  cos: () => Value;
  sin: () => Value;
}

/**
 * `LlamaRotaryEmbedding`'s non-persistent `cos_cached` / `sin_cached` buffers, [positions,
 * headDim], computed in float32 as transformers does. Not in the state dict, they are traced
 * as constants: module-less `Constant`s (`onnx::Slice_<id>`) where layer 0 first reads them.
 */
export function rotaryCaches(t: TorchScriptWriter, dims: LlamaDims): RotaryCaches {
  const { positions, headDim, ropeTheta } = dims;
  const half = headDim / 2;
  const cos = new Float32Array(positions * headDim);
  const sin = new Float32Array(positions * headDim);
  for (let i = 0; i < half; i++) {
    const invFreq = Math.fround(1 / Math.fround(ropeTheta ** Math.fround((2 * i) / headDim)));
    for (let p = 0; p < positions; p++) {
      const angle = Math.fround(p * invFreq);
      // emb = cat(freqs, freqs): both halves of a row share the frequencies
      cos[p * headDim + i] = cos[p * headDim + half + i] = Math.cos(angle);
      sin[p * headDim + i] = sin[p * headDim + half + i] = Math.sin(angle);
    }
  }
  const once = (values: Float32Array) => {
    let value: Value | undefined;
    return () => {
      value ??= t.unscopedConstant(
        Tensor.fromArray(DataType.FLOAT, [positions, headDim], values),
        "Slice",
      );
      return value;
    };
  };
  return { cos: once(cos), sin: once(sin) };
}

export interface AttentionWeights {
  q: Value;
  k: Value;
  v: Value;
  o: Value;
}

export interface AttentionInputs {
  /** The input_layernorm output, [batch, sequence, hidden]. */
  hidden: Value;
  positionIds: Value;
  /** The shared [batch, 1, sequence, total] additive mask. */
  mask: Value;
  /** past_key_values.{i}.key / .value when exporting with a cache. */
  past: { key: Value; value: Value } | undefined;
}

export interface AttentionOutputs {
  output: Value;
  /** present.{i}.key / .value (the cache after this step), when exporting with a cache. */
  present: { key: Value; value: Value } | undefined;
}

/**
 * transformers 4.35 `LlamaAttention.forward` (eager), as traced: q/k/v projections, view +
 * transpose to heads, rotary embeddings from the sliced caches gathered by position_ids,
 * the past concatenated on the sequence axis, `repeat_kv` for grouped-query attention,
 * softmax(QKᵀ / √d + mask)·V, back to [batch, sequence, hidden] and o_proj.
 */
export function llamaAttention(
  t: TorchScriptWriter,
  scope: string,
  dims: LlamaDims,
  rotary: RotaryCaches,
  weights: AttentionWeights,
  inputs: AttentionInputs,
): AttentionOutputs {
  const { heads, kvHeads, headDim, hidden: hiddenSize, groups } = dims;
  return t.in(scope, () => {
    const { hidden, past } = inputs;
    const batch = t.size(hidden, 0);
    const queryLength = t.size(hidden, 1);
    const q = t.in(`${scope}/q_proj`, () => t.op("MatMul", [hidden, weights.q]));
    const k = t.in(`${scope}/k_proj`, () => t.op("MatMul", [hidden, weights.k]));
    const v = t.in(`${scope}/v_proj`, () => t.op("MatMul", [hidden, weights.v]));
    const toHeads = (x: Value, n: number) =>
      t.transpose(t.view(x, [batch, queryLength, n, headDim]), [0, 2, 1, 3]);
    const query = toHeads(q, heads);
    const key = toHeads(k, kvHeads);
    const value = toHeads(v, kvHeads);

    let kvLength = t.size(key, 2);
    if (past) kvLength = t.op("Add", [kvLength, t.size(past.key, 2)]);
    // cos_cached[:seq_len].to(dtype=x.dtype), likewise sin: the same-type casts stay
    const [cos, sin] = t.in(`${scope}/rotary_emb`, () => [
      t.castFloat(t.slice(rotary.cos(), 0, undefined, kvLength)),
      t.castFloat(t.slice(rotary.sin(), 0, undefined, kvLength)),
    ]) as [Value, Value];

    // apply_rotary_pos_emb: cos[position_ids].unsqueeze(1), then x * cos + rotate_half(x) * sin
    const cosAt = t.unsqueeze(t.op("Gather", [cos, inputs.positionIds], { axis: 0 }), 1);
    const sinAt = t.unsqueeze(t.op("Gather", [sin, inputs.positionIds], { axis: 0 }), 1);
    // rotate_half: x1 = x[..., : x.shape[-1] // 2]; x2 = x[..., x.shape[-1] // 2 :]
    const half = (x: Value) => floorDivide(t, t.size(x, 3), 2);
    const rotate = (x: Value) => {
      const x1 = t.slice(x, 3, undefined, half(x));
      const x2 = t.slice(x, 3, half(x), INT64_MAX);
      return t.op("Concat", [t.op("Neg", [x2]), x1], { axis: -1 });
    };
    const embed = (x: Value) => {
      const xCos = t.op("Mul", [x, cosAt]);
      return t.op("Add", [xCos, t.op("Mul", [rotate(x), sinAt])]);
    };
    const queryRotated = embed(query);
    let keyStates = embed(key);
    let valueStates = value;
    if (past) {
      keyStates = t.op("Concat", [past.key, keyStates], { axis: 2 });
      valueStates = t.op("Concat", [past.value, valueStates], { axis: 2 });
    }
    const present = past ? { key: keyStates, value: valueStates } : undefined;

    const keys = repeatKv(t, keyStates, groups);
    const values = repeatKv(t, valueStates, groups);
    const scores = t.op("MatMul", [queryRotated, t.transpose(keys, [0, 1, 3, 2])]);
    const scaled = t.op("Div", [scores, t.floatScalar(Math.sqrt(headDim))]);
    // softmax(·, dtype=float32).to(query_states.dtype): the symbolic's cast, then the .to()
    const softmax = t.op("Softmax", [t.op("Add", [scaled, inputs.mask])], { axis: -1 });
    const probs = t.castFloat(t.castFloat(softmax));
    const context = t.transpose(t.op("MatMul", [probs, values]), [0, 2, 1, 3]);
    const merged = t.view(context, [batch, queryLength, hiddenSize]);
    const output = t.in(`${scope}/o_proj`, () => t.op("MatMul", [merged, weights.o]));
    return { output, present };
  });
}

/**
 * A traced int's `// n`: torch 2.0 exports floor_divide as a truncating `Div` followed by a cast
 * to int64 and one back to the operand's type (both int64 here, and kept).
 */
function floorDivide(t: TorchScriptWriter, x: Value, divisor: number): Value {
  const quotient = t.op("Div", [x, t.intScalar(divisor)]);
  return t.cast(t.cast(quotient, DataType.INT64), DataType.INT64);
}

/** `repeat_kv`: [b, kv, s, d] → [b, kv·groups, s, d] by unsqueeze, expand and reshape. */
function repeatKv(t: TorchScriptWriter, x: Value, groups: number): Value {
  if (groups === 1) return x;
  const [batch, kvHeads, length, headDim] = [0, 1, 2, 3].map((d) => t.size(x, d)) as [
    Value,
    Value,
    Value,
    Value,
  ];
  const expanded = t.expand(t.unsqueeze(x, 2), [batch, kvHeads, groups, length, headDim]);
  const heads = t.op("Mul", [kvHeads, t.intScalar(groups)]);
  return t.view(expanded, [batch, heads, length, headDim]);
}
