import { errors } from "@lathe/core";
import type { ConfigKey } from "../zoo-model.js";

/** A GPT-2 configuration, in the zoo's `--config` keys (Hugging Face GPT2Config in brackets). */
export type Gpt2Config = {
  /** [n_layer] */
  layers: number;
  /** [n_embd] */
  hidden: number;
  /** [n_head] */
  heads: number;
  /** [vocab_size] */
  vocab: number;
  /** [n_positions]: rows of the position embedding and of the causal-mask buffer. */
  positions: number;
  kvCache: boolean;
  outliers: number;
};

export const gpt2ConfigKeys: Record<keyof Gpt2Config, ConfigKey> = {
  layers: { type: "integer", minimum: 1, description: "transformer blocks (n_layer)" },
  hidden: { type: "integer", minimum: 1, description: "hidden size (n_embd); the MLP is 4× wider" },
  heads: {
    type: "integer",
    minimum: 1,
    description: "attention heads (n_head); must divide hidden",
  },
  vocab: { type: "integer", minimum: 1, description: "vocabulary size (vocab_size)" },
  positions: {
    type: "integer",
    minimum: 1,
    description: "n_positions: longest past + sequence the model accepts",
  },
  kvCache: {
    type: "boolean",
    description:
      "export with past_key_values.* inputs and present.* outputs (start from an empty past)",
  },
  outliers: {
    type: "integer",
    minimum: 0,
    description:
      "hidden channels given large LayerNorm weights in every block, like real LLM activation outliers",
  },
};

/** transformers' GPT2Config defaults that the zoo does not expose. */
export const LAYER_NORM_EPSILON = 1e-5;

/** The sizes the graph needs, derived from a checked config. */
export interface Gpt2Dims extends Gpt2Config {
  headDim: number;
  /** n_inner = 4 × n_embd */
  inner: number;
}

/** Checks the keys' types and how they fit together; throws a LatheError naming the key. */
export function gpt2Dims(config: Gpt2Config): Gpt2Dims {
  for (const [key, spec] of Object.entries(gpt2ConfigKeys)) {
    const value = (config as Record<string, unknown>)[key];
    if (spec.type === "boolean") {
      if (typeof value !== "boolean") invalid(key, `must be true or false, got ${String(value)}`);
      continue;
    }
    if (typeof value !== "number" || !Number.isInteger(value))
      invalid(key, `must be an integer, got ${String(value)}`);
    if (spec.minimum !== undefined && value < spec.minimum)
      invalid(key, `must be at least ${spec.minimum}, got ${value}`);
  }
  const { hidden, heads, outliers } = config;
  if (hidden % heads !== 0)
    invalid("heads", `${heads} heads do not divide hidden ${hidden}`, "pick heads dividing hidden");
  if (outliers > hidden)
    invalid("outliers", `${outliers} outlier channels exceed hidden ${hidden}`);
  return { ...config, headDim: hidden / heads, inner: 4 * hidden };
}

function invalid(key: string, detail: string, hint?: string): never {
  throw errors.zooConfigInvalid("gpt2", key, detail, hint);
}
