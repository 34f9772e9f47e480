import { singleModelBundle } from "@lathe/core";
import { defineZooModel } from "../zoo-model.js";
import { type Gpt2Config, gpt2ConfigKeys, gpt2Dims } from "./gpt2-config.js";
import { buildGpt2Model, GPT2_EXPORTER } from "./gpt2-graph.js";
import { Gpt2Weights } from "./gpt2-weights.js";

/**
 * GPT-2 (Hugging Face GPT2LMHeadModel) as Optimum's PyTorch export writes it: Conv1D layers
 * as Gemm between Reshapes, fused QKV then Split, eager attention with the causal mask sliced
 * from the `bias` buffer, LayerNorm and gelu_new written out, LM head tied to the token
 * embedding; `kvCache=true` for the past/present variant.
 */
export const gpt2 = defineZooModel<Gpt2Config>({
  name: "gpt2",
  summary:
    "GPT-2 decoder (Conv1D as Gemm, fused QKV + Split, masked eager attention, gelu_new, tied LM head) as Optimum exports GPT2LMHeadModel",
  exporter: GPT2_EXPORTER,
  configKeys: gpt2ConfigKeys,
  presets: {
    tiny: {
      layers: 2,
      hidden: 64,
      heads: 4,
      vocab: 1000,
      positions: 128,
      kvCache: false,
      outliers: 0,
    },
    /** GPT-2 small ("gpt2"): 124.4 M parameters, 498 MB of fp32 weights. */
    small: {
      layers: 12,
      hidden: 768,
      heads: 12,
      vocab: 50257,
      positions: 1024,
      kvCache: false,
      outliers: 0,
    },
  },
  defaultPreset: "small",
  build(config, { seed }) {
    const dims = gpt2Dims(config);
    const weights = new Gpt2Weights(dims, seed);
    const model = buildGpt2Model(dims, weights);
    return singleModelBundle(model, {
      architecture: "GPT2LMHeadModel",
      config: { ...config },
      headDim: dims.headDim,
      outlierChannels: [...weights.outlierChannels],
    });
  },
});
