import { createBuilder, DataType, type Model, Tensor, type Value } from "@lathe/core";
import { TorchScriptWriter } from "../torchscript.js";
import { llamaAttention, type RotaryCaches, rotaryCaches } from "./llama-attention.js";
import type { LlamaDims } from "./llama-config.js";
import { causalAttentionMask } from "./llama-mask.js";
import type { LlamaLayerWeights, LlamaWeights } from "./llama-weights.js";

/** The exporter this graph follows, op for op. */
export const LLAMA_EXPORTER =
  "torch.onnx.export (TorchScript), torch 2.0.1, opset 14, do_constant_folding=True, of transformers 4.35 LlamaForCausalLM (eager attention, fp32); the cached variant as onnxruntime's models/llama/convert_to_onnx.py merged export";

/** Dynamic axes as onnxruntime's LLaMA export names them. */
const BATCH = "batch_size";
const SEQUENCE = "sequence_length";
const PAST = "past_sequence_length";
const TOTAL = "total_sequence_length";

/** LlamaForCausalLM as the exporter writes it; `dims.kvCache` adds past inputs and present outputs. */
export function buildLlamaModel(dims: LlamaDims, weights: LlamaWeights): Model {
  const b = createBuilder({ opset: 14 });
  b.graph.name = "torch_jit"; // torch renamed it main_graph in 2.1
  const { layers, hidden, kvHeads, headDim, vocab, kvCache } = dims;

  const inputIds = b.input("input_ids", DataType.INT64, [BATCH, SEQUENCE]);
  const attentionMask = b.input("attention_mask", DataType.INT64, [
    BATCH,
    kvCache ? TOTAL : SEQUENCE,
  ]);
  const positionIds = b.input("position_ids", DataType.INT64, [BATCH, SEQUENCE]);
  const cacheDims = [BATCH, kvHeads, PAST, headDim];
  const pasts = kvCache
    ? Array.from({ length: layers }, (_, i) => ({
        key: b.input(`past_key_values.${i}.key`, DataType.FLOAT, cacheDims),
        value: b.input(`past_key_values.${i}.value`, DataType.FLOAT, cacheDims),
      }))
    : undefined;
  // torch numbers values after the inputs and the state dict (embedding, 9 per layer, norm, head)
  const t = new TorchScriptWriter(b, b.graph.inputs.length + 3 + 9 * layers);

  const presents: { key: Value; value: Value }[] = [];
  const normed = t.in("/model", () => {
    const sequenceLength = t.size(inputIds, 1);
    const pastLength = pasts?.[0] ? t.size(pasts[0].key, 2) : undefined;
    const embedding = parameter(t, "model.embed_tokens.weight", weights.embedding(), [
      vocab,
      hidden,
    ]);
    const embeds = t.in("/model/embed_tokens", () => t.op("Gather", [embedding, inputIds]));
    const shared: LayerInputs = {
      mask: causalAttentionMask(t, { attentionMask, sequenceLength, pastLength }),
      rotary: rotaryCaches(t, dims),
      positionIds,
    };
    let states = embeds;
    for (let i = 0; i < layers; i++) {
      const layer = decoderLayer(t, dims, i, weights.layer(i), states, {
        ...shared,
        past: pasts?.[i],
      });
      if (layer.present) presents.push(layer.present);
      states = layer.output;
    }
    const norm = parameter(t, "model.norm.weight", weights.finalNorm(), [hidden]);
    return rmsNorm(t, "/model/norm", states, norm, dims.rmsEps);
  });
  const lmHead = matmulWeight(t, weights.lmHead(), hidden, vocab);
  const projected = t.in("/lm_head", () => t.op("MatMul", [normed, lmHead]));
  const logits = t.castFloat(projected); // LlamaForCausalLM: logits = logits.float()

  b.output(logits, "logits", DataType.FLOAT, [BATCH, SEQUENCE, vocab]);
  const presentDims = [BATCH, kvHeads, TOTAL, headDim];
  presents.forEach((present, i) => {
    b.output(present.key, `present.${i}.key`, DataType.FLOAT, presentDims);
    b.output(present.value, `present.${i}.value`, DataType.FLOAT, presentDims);
  });
  t.nameUnscopedNodes(b.graph.nodes());
  return b.build({ producerName: "pytorch", producerVersion: "2.0.1", irVersion: 8 });
}

interface LayerInputs {
  mask: Value;
  rotary: RotaryCaches;
  positionIds: Value;
  past?: { key: Value; value: Value } | undefined;
}

/** `LlamaDecoderLayer`: pre-norm attention and SwiGLU MLP, each with a residual `Add`. */
function decoderLayer(
  t: TorchScriptWriter,
  dims: LlamaDims,
  index: number,
  w: LlamaLayerWeights,
  states: Value,
  inputs: LayerInputs,
): { output: Value; present: { key: Value; value: Value } | undefined } {
  const { hidden, heads, kvHeads, headDim, intermediate, rmsEps } = dims;
  const scope = `/model/layers.${index}`;
  const prefix = `model.layers.${index}`;
  const inputNorm = parameter(t, `${prefix}.input_layernorm.weight`, w.inputNorm, [hidden]);
  const normed = rmsNorm(t, `${scope}/input_layernorm`, states, inputNorm, rmsEps);
  const attention = llamaAttention(
    t,
    `${scope}/self_attn`,
    dims,
    inputs.rotary,
    {
      q: matmulWeight(t, w.q, hidden, heads * headDim),
      k: matmulWeight(t, w.k, hidden, kvHeads * headDim),
      v: matmulWeight(t, w.v, hidden, kvHeads * headDim),
      o: matmulWeight(t, w.o, heads * headDim, hidden),
    },
    { hidden: normed, positionIds: inputs.positionIds, mask: inputs.mask, past: inputs.past },
  );
  const afterAttention = t.in(scope, () => t.op("Add", [states, attention.output]));
  const postNorm = parameter(t, `${prefix}.post_attention_layernorm.weight`, w.postNorm, [hidden]);
  const normed2 = rmsNorm(t, `${scope}/post_attention_layernorm`, afterAttention, postNorm, rmsEps);
  const mlp = swiGlu(t, `${scope}/mlp`, normed2, {
    gate: matmulWeight(t, w.gate, hidden, intermediate),
    up: matmulWeight(t, w.up, hidden, intermediate),
    down: matmulWeight(t, w.down, intermediate, hidden),
  });
  const output = t.in(scope, () => t.op("Add", [afterAttention, mlp]));
  return { output, present: attention.present };
}

/**
 * `LlamaRMSNorm`: weight * (x.to(float32) * rsqrt(mean(x², -1) + eps)).to(input_dtype). The
 * exporter keeps both casts even in fp32, folds `pow`'s int exponent cast to a float
 * `Constant`, and writes rsqrt as Div(1, Sqrt(·)).
 */
function rmsNorm(t: TorchScriptWriter, scope: string, x: Value, weight: Value, eps: number): Value {
  return t.in(scope, () => {
    const upcast = t.castFloat(x);
    const squared = t.op("Pow", [upcast, t.floatScalar(2)]);
    const variance = t.op("ReduceMean", [squared], { axes: [-1], keepdims: 1 });
    const std = t.op("Sqrt", [t.op("Add", [variance, t.floatScalar(eps)])]);
    const one = t.constant(Tensor.fromArray(DataType.FLOAT, [1], [1]));
    const normalized = t.op("Mul", [upcast, t.op("Div", [one, std])]);
    return t.op("Mul", [weight, t.castFloat(normalized)]);
  });
}

/** `LlamaMLP`: down_proj(silu(gate_proj(x)) * up_proj(x)), SiLU written as x * Sigmoid(x). */
function swiGlu(
  t: TorchScriptWriter,
  scope: string,
  x: Value,
  weights: { gate: Value; up: Value; down: Value },
): Value {
  return t.in(scope, () => {
    const gate = t.in(`${scope}/gate_proj`, () => t.op("MatMul", [x, weights.gate]));
    const activated = t.in(`${scope}/act_fn`, () => t.op("Mul", [gate, t.op("Sigmoid", [gate])]));
    const up = t.in(`${scope}/up_proj`, () => t.op("MatMul", [x, weights.up]));
    const product = t.op("Mul", [activated, up]);
    return t.in(`${scope}/down_proj`, () => t.op("MatMul", [product, weights.down]));
  });
}

/** A Linear weight: the exporter constant-folds `W.T` into an [in, out] initializer. */
function matmulWeight(t: TorchScriptWriter, values: Float32Array, rows: number, cols: number) {
  return t.folded(floatTensor([rows, cols], values), "MatMul");
}

/** A parameter used as it is keeps its state-dict name. */
function parameter(t: TorchScriptWriter, name: string, values: Float32Array, dims: number[]) {
  return t.parameter(floatTensor(dims, values, name));
}

/** A float32 tensor over the array's bytes (no copy: the big presets hold gigabytes). */
function floatTensor(dims: readonly number[], values: Float32Array, name?: string): Tensor {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  return Tensor.fromBytes(DataType.FLOAT, dims, bytes, name === undefined ? {} : { name });
}
