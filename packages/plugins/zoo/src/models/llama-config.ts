import { errors } from "@lathe/core";
import type { ConfigKey } from "../zoo-model.js";

/** A LLaMA configuration, in the zoo's `--config` keys (Hugging Face LlamaConfig in brackets). */
export type LlamaConfig = {
  /** [num_hidden_layers] */
  layers: number;
  /** [hidden_size] */
  hidden: number;
  /** [num_attention_heads] */
  heads: number;
  /** [num_key_value_heads] */
  kvHeads: number;
  /** [intermediate_size] */
  intermediate: number;
  /** [vocab_size] */
  vocab: number;
  /** [max_position_embeddings]: rows of the rotary cos/sin caches. */
  positions: number;
  /** [rope_theta] */
  ropeTheta: number;
  /** [rms_norm_eps] */
  rmsEps: number;
  kvCache: boolean;
  outliers: number;
};

export const llamaConfigKeys: Record<keyof LlamaConfig, ConfigKey> = {
  layers: { type: "integer", minimum: 1, description: "decoder layers (num_hidden_layers)" },
  hidden: { type: "integer", minimum: 2, description: "hidden size (hidden_size)" },
  heads: {
    type: "integer",
    minimum: 1,
    description: "query heads (num_attention_heads); must divide hidden into an even head size",
  },
  kvHeads: {
    type: "integer",
    minimum: 1,
    description: "key/value heads (num_key_value_heads) for grouped-query attention; divides heads",
  },
  intermediate: {
    type: "integer",
    minimum: 1,
    description: "SwiGLU MLP width (intermediate_size)",
  },
  vocab: { type: "integer", minimum: 1, description: "vocabulary size (vocab_size)" },
  positions: {
    type: "integer",
    minimum: 1,
    description: "max_position_embeddings: rows of the rotary cos/sin caches",
  },
  ropeTheta: { type: "number", minimum: 1, description: "rotary base (rope_theta)" },
  rmsEps: { type: "number", description: "RMSNorm epsilon (rms_norm_eps), in (0, 1e-4]" },
  kvCache: {
    type: "boolean",
    description:
      "export with past_key_values.* inputs and present.* outputs (prompt with an empty past, then one token per step)",
  },
  outliers: {
    type: "integer",
    minimum: 0,
    description:
      "hidden channels given large RMSNorm weights in every layer, like real LLM activation outliers",
  },
};

/** The sizes the graph needs, derived from a checked config. */
export interface LlamaDims extends LlamaConfig {
  headDim: number;
  /** Query heads per key/value head (`num_key_value_groups`). */
  groups: number;
}

/** Checks the keys' types and how they fit together; throws a LatheError naming the key. */
export function llamaDims(config: LlamaConfig): LlamaDims {
  for (const [key, spec] of Object.entries(llamaConfigKeys)) {
    const value = (config as Record<string, unknown>)[key];
    if (spec.type === "boolean") {
      if (typeof value !== "boolean") invalid(key, `must be true or false, got ${String(value)}`);
      continue;
    }
    if (typeof value !== "number" || !Number.isFinite(value))
      invalid(key, `must be a number, got ${String(value)}`);
    if (spec.type === "integer" && !Number.isInteger(value))
      invalid(key, `must be an integer, got ${value}`);
    if (spec.minimum !== undefined && value < spec.minimum)
      invalid(key, `must be at least ${spec.minimum}, got ${value}`);
  }
  const { hidden, heads, kvHeads, outliers, rmsEps } = config;
  if (hidden % heads !== 0)
    invalid("heads", `${heads} heads do not divide hidden ${hidden}`, "pick heads dividing hidden");
  const headDim = hidden / heads;
  if (headDim % 2 !== 0)
    invalid(
      "heads",
      `the head size hidden/heads = ${headDim} is odd; rotary embeddings rotate half of it`,
      "pick heads so that hidden/heads is even",
    );
  if (heads % kvHeads !== 0)
    invalid("kvHeads", `${kvHeads} key/value heads do not divide ${heads} query heads`);
  if (outliers > hidden)
    invalid("outliers", `${outliers} outlier channels exceed hidden ${hidden}`);
  if (!(rmsEps > 0 && rmsEps <= 1e-4))
    invalid("rmsEps", `must be in (0, 1e-4], got ${rmsEps}`, "LLaMA uses 1e-6 or 1e-5");
  return { ...config, headDim, groups: heads / kvHeads };
}

function invalid(key: string, detail: string, hint?: string): never {
  throw errors.zooConfigInvalid("llama", key, detail, hint);
}
