import { singleModelBundle } from "@lathe/core";
import { defineZooModel } from "../zoo-model.js";
import { type LlamaConfig, llamaConfigKeys, llamaDims } from "./llama-config.js";
import { buildLlamaModel, LLAMA_EXPORTER } from "./llama-graph.js";
import { LlamaWeights } from "./llama-weights.js";

const common = { ropeTheta: 10000, rmsEps: 1e-6, kvCache: false, outliers: 0 };

/**
 * A LLaMA decoder (Hugging Face LlamaForCausalLM) as the PyTorch exporter writes it: RMSNorm
 * written out, rotary embeddings with rotate_half, grouped-query attention with repeat_kv,
 * SwiGLU MLP, untied LM head; `kvCache=true` for the past/present variant.
 */
export const llama = defineZooModel<LlamaConfig>({
  name: "llama",
  summary:
    "LLaMA decoder (RMSNorm, rotary, grouped-query attention, SwiGLU) as torch.onnx exports LlamaForCausalLM",
  exporter: LLAMA_EXPORTER,
  configKeys: llamaConfigKeys,
  presets: {
    tiny: {
      layers: 2,
      hidden: 64,
      heads: 4,
      kvHeads: 2,
      intermediate: 172,
      vocab: 1000,
      positions: 128,
      ...common,
    },
    small: {
      layers: 4,
      hidden: 512,
      heads: 8,
      kvHeads: 2,
      intermediate: 1408,
      vocab: 32000,
      positions: 2048,
      ...common,
    },
    /** Benchmarks only: 852 M parameters, 3.4 GB of fp32 weights. */
    "1b": {
      layers: 16,
      hidden: 2048,
      heads: 32,
      kvHeads: 8,
      intermediate: 5632,
      vocab: 32000,
      positions: 2048,
      ...common,
    },
  },
  defaultPreset: "small",
  build(config, { seed }) {
    const dims = llamaDims(config);
    const weights = new LlamaWeights(dims, seed);
    const model = buildLlamaModel(dims, weights);
    return singleModelBundle(model, {
      architecture: "LlamaForCausalLM",
      config: { ...config },
      headDim: dims.headDim,
      outlierChannels: [...weights.outlierChannels],
    });
  },
});
