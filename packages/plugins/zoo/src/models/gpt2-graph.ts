import { type Builder, createBuilder, DataType, type Model, Tensor, type Value } from "@lathe/core";
import { TorchScriptWriter } from "../torchscript.js";
import {
  type AttentionParams,
  FLOAT32_MIN,
  gpt2Attention,
  type KeyValue,
  sharedAttentionInputs,
} from "./gpt2-attention.js";
import { type Gpt2Dims, LAYER_NORM_EPSILON } from "./gpt2-config.js";
import { conv1d, layerNorm, newGelu } from "./gpt2-modules.js";
import type { Gpt2Weights } from "./gpt2-weights.js";

/** The exporter this graph follows, op for op. */
export const GPT2_EXPORTER =
  "Optimum 1.14 `optimum-cli export onnx --task text-generation[-with-past]` (model.onnx), i.e. torch.onnx.export (TorchScript), torch 2.0.1, opset 13, do_constant_folding=True, of transformers 4.35 GPT2LMHeadModel (eager attention, fp32), plus Optimum's tied-weight deduplication";

/** Dynamic axes as Optimum names them. */
const BATCH = "batch_size";
const SEQUENCE = "sequence_length";
const PAST = "past_sequence_length";
const TOTAL = "past_sequence_length + 1";

interface BlockParams extends AttentionParams {
  ln1: { weight: Value; bias: Value };
  ln2: { weight: Value; bias: Value };
  fc: { weight: Value; bias: Value };
  mlpProj: { weight: Value; bias: Value };
}

/** GPT2LMHeadModel as the exporter writes it; `dims.kvCache` adds past inputs and present outputs. */
export function buildGpt2Model(dims: Gpt2Dims, weights: Gpt2Weights): Model {
  const b = createBuilder({ opset: 13 });
  b.graph.name = "torch_jit";
  const { layers, hidden, heads, headDim, inner, vocab, kvCache } = dims;

  // Graph inputs in GPT2LMHeadModel.forward's order, as Optimum's ordered_inputs sorts them.
  const inputIds = b.input("input_ids", DataType.INT64, [BATCH, SEQUENCE]);
  const cacheDims = [BATCH, heads, PAST, headDim];
  const pasts: KeyValue[] | undefined = kvCache
    ? Array.from({ length: layers }, (_, i) => ({
        key: b.input(`past_key_values.${i}.key`, DataType.FLOAT, cacheDims),
        value: b.input(`past_key_values.${i}.value`, DataType.FLOAT, cacheDims),
      }))
    : undefined;
  const attentionMask = b.input("attention_mask", DataType.INT64, [
    BATCH,
    kvCache ? TOTAL : SEQUENCE,
  ]);
  const positionIds = b.input("position_ids", DataType.INT64, [BATCH, SEQUENCE]);

  const params = stateDict(b, dims, weights);
  const t = new TorchScriptWriter(b, b.graph.inputs.length + b.graph.initializers.size);

  const presents: KeyValue[] = [];
  const hiddenStates = t.in("/transformer", () => {
    // input_shape = input_ids.size(); input_ids.view(-1, input_shape[-1]); position_ids likewise
    const batchOfInput = t.size(inputIds, 0);
    const sequence = t.size(inputIds, 1);
    const idsShape = t.sizeList([-1, sequence]);
    const positionsShape = t.sizeList([-1, sequence]);
    const ids = t.reshape(inputIds, idsShape);
    const batch = t.size(ids, 0);
    const positions = t.reshape(positionIds, positionsShape);

    // (1.0 - attention_mask.view(batch_size, -1)[:, None, None, :].to(float32)) * finfo.min
    const mask4d = t.unsqueeze(t.unsqueeze(t.view(attentionMask, [batch, -1]), 1), 2);
    const maskFloat = t.castFloat(mask4d);
    const inverted = t.op("Sub", [t.floatScalar(1), maskFloat]);
    const additiveMask = t.op("Mul", [inverted, t.floatScalar(FLOAT32_MIN)]);

    const tokens = t.in("/transformer/wte", () => t.op("Gather", [params.wte, ids]));
    const positional = t.in("/transformer/wpe", () => t.op("Gather", [params.wpe, positions]));
    let states = t.op("Add", [tokens, positional]);
    const width = t.size(states, -1); // output_shape = input_shape + (hidden_states.size(-1),)

    const shared = sharedAttentionInputs(t, dims.positions, additiveMask);
    params.blocks.forEach((block, i) => {
      const scope = `/transformer/h.${i}`;
      const normed = layerNorm(t, `${scope}/ln_1`, states, block.ln1, LAYER_NORM_EPSILON);
      const attention = gpt2Attention(t, `${scope}/attn`, dims, shared, block, normed, pasts?.[i]);
      if (attention.present) presents.push(attention.present);
      const residual = t.in(scope, () => t.op("Add", [attention.output, states]));
      const normed2 = layerNorm(t, `${scope}/ln_2`, residual, block.ln2, LAYER_NORM_EPSILON);
      const up = conv1d(t, `${scope}/mlp/c_fc`, normed2, block.fc, inner);
      const activated = newGelu(t, `${scope}/mlp/act`, up);
      const down = conv1d(t, `${scope}/mlp/c_proj`, activated, block.mlpProj, hidden);
      states = t.in(scope, () => t.op("Add", [residual, down]));
    });
    const final = layerNorm(t, "/transformer/ln_f", states, params.lnF, LAYER_NORM_EPSILON);
    return t.view(final, [batchOfInput, sequence, width]);
  });

  // Optimum's tied-weight deduplication replaced the exporter's folded wteᵀ initializer with a
  // Transpose of the shared embedding, inserted before its only consumer.
  const outputs = ["transformer.wte.weight_transposed"];
  const transpose = b.node("Transpose", [params.wte], {}, { outputs });
  const logits = t.in("/lm_head", () => t.op("MatMul", [hiddenStates, transpose.output]));

  b.output(logits, "logits", DataType.FLOAT, [BATCH, SEQUENCE, vocab]);
  const presentDims = [BATCH, heads, TOTAL, headDim];
  presents.forEach((present, i) => {
    b.output(present.key, `present.${i}.key`, DataType.FLOAT, presentDims);
    b.output(present.value, `present.${i}.value`, DataType.FLOAT, presentDims);
  });

  const nodes = b.graph.nodes();
  t.nameUnscopedNodes(nodes);
  transpose.name = `Transpose_${nodes.length}`; // Optimum: f"Transpose_{len(graph.node) + 1}"
  return b.build({ producerName: "pytorch", producerVersion: "2.0.1", irVersion: 8 });
}

/**
 * Every parameter as an initializer under its state-dict name, in state-dict order (the
 * order torch writes them). Conv1D weights are used as stored, so nothing is folded.
 */
function stateDict(b: Builder, dims: Gpt2Dims, weights: Gpt2Weights) {
  const { vocab, hidden, positions, inner } = dims;
  const add = (name: string, shape: number[], values: Float32Array) =>
    b.initializer(floatTensor(shape, values), name);
  const wte = add("transformer.wte.weight", [vocab, hidden], weights.tokenEmbedding());
  const wpe = add("transformer.wpe.weight", [positions, hidden], weights.positionEmbedding());
  const blocks: BlockParams[] = [];
  for (let i = 0; i < dims.layers; i++) {
    const w = weights.block(i);
    const p = `transformer.h.${i}`;
    blocks.push({
      ln1: {
        weight: add(`${p}.ln_1.weight`, [hidden], w.ln1Weight),
        bias: add(`${p}.ln_1.bias`, [hidden], w.ln1Bias),
      },
      attn: {
        weight: add(`${p}.attn.c_attn.weight`, [hidden, 3 * hidden], w.attnWeight),
        bias: add(`${p}.attn.c_attn.bias`, [3 * hidden], w.attnBias),
      },
      proj: {
        weight: add(`${p}.attn.c_proj.weight`, [hidden, hidden], w.attnProjWeight),
        bias: add(`${p}.attn.c_proj.bias`, [hidden], w.attnProjBias),
      },
      ln2: {
        weight: add(`${p}.ln_2.weight`, [hidden], w.ln2Weight),
        bias: add(`${p}.ln_2.bias`, [hidden], w.ln2Bias),
      },
      fc: {
        weight: add(`${p}.mlp.c_fc.weight`, [hidden, inner], w.fcWeight),
        bias: add(`${p}.mlp.c_fc.bias`, [inner], w.fcBias),
      },
      mlpProj: {
        weight: add(`${p}.mlp.c_proj.weight`, [inner, hidden], w.mlpProjWeight),
        bias: add(`${p}.mlp.c_proj.bias`, [hidden], w.mlpProjBias),
      },
    });
  }
  const norm = weights.finalNorm();
  const lnF = {
    weight: add("transformer.ln_f.weight", [hidden], norm.weight),
    bias: add("transformer.ln_f.bias", [hidden], norm.bias),
  };
  return { wte, wpe, blocks, lnF };
}

/** A float32 tensor over the array's bytes (no copy: GPT-2 small holds 500 MB). */
function floatTensor(dims: readonly number[], values: Float32Array): Tensor {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  return Tensor.fromBytes(DataType.FLOAT, dims, bytes);
}
