/**
 * Text to token ids: a Hugging Face `tokenizer.json` through @huggingface/tokenizers (pure JS,
 * no network: the file is read from disk), or UTF-8 bytes as ids for byte-level models that
 * have no tokenizer file.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { errors } from "../diagnostics.js";
import { readDataFile } from "./files.js";

export interface TextTokenizer {
  /** Token ids of `text`, special tokens (the post-processor's template) added when asked. */
  encode(text: string, addSpecialTokens: boolean, where: string): number[];
  /** The id padding uses when the options name none. */
  readonly padId: number;
}

/** The `tokenizer` option's value that selects byte-level ids. */
export const BYTES = "bytes";

/** Byte-level ids: each UTF-8 byte plus `offset` (models that keep low ids for specials). */
export function byteTokenizer(offset: number): TextTokenizer {
  const encoder = new TextEncoder();
  return {
    encode: (text) => Array.from(encoder.encode(text), (b) => b + offset),
    padId: 0,
  };
}

/** The tokenizer.json files a data set reads (and tokenizer_config.json beside it, if present). */
export function tokenizerFiles(path: string): string[] {
  const config = join(dirname(path), "tokenizer_config.json");
  return existsSync(config) ? [path, config] : [path];
}

const PAD_TOKENS = ["[PAD]", "<pad>", "<|pad|>", "<|padding|>"];

/** Reads a tokenizer.json; anything the library refuses is an error naming the file. */
export async function loadTokenizer(path: string): Promise<TextTokenizer> {
  const json = await readJson(path, "tokenizer.json");
  const configPath = join(dirname(path), "tokenizer_config.json");
  const config = existsSync(configPath) ? await readJson(configPath, "tokenizer_config.json") : {};
  if (typeof json !== "object" || json === null || Array.isArray(json))
    throw invalid(path, "it is not a JSON object");
  const spec = json as Record<string, unknown>;
  // The library requires every component's key; a hand-written file may leave out the empty ones.
  const complete = {
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: null,
    added_tokens: [],
    ...spec,
  };
  if (typeof spec.model !== "object" || spec.model === null)
    throw invalid(path, 'it has no "model" (the vocabulary and its algorithm)');
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(complete, config as object);
  } catch (error) {
    throw invalid(path, error instanceof Error ? error.message : String(error));
  }
  const padding = spec.padding as { pad_id?: unknown } | null | undefined;
  const padId =
    typeof padding?.pad_id === "number"
      ? padding.pad_id
      : (PAD_TOKENS.map((t) => tokenizer.token_to_id(t)).find((id) => id !== undefined) ?? 0);
  return {
    padId,
    encode(text, addSpecialTokens, where) {
      const { ids, tokens } = tokenizer.encode(text, { add_special_tokens: addSpecialTokens });
      const missing = ids.findIndex((id: number | undefined) => typeof id !== "number");
      if (missing >= 0)
        throw errors.dataOptionsInvalid(
          where,
          `the tokenizer has no id for the token "${tokens[missing]}" and no unknown token to map it to (${path})`,
          "use the tokenizer.json the model was trained with (its tokenizer_config.json beside it names the unk_token of word-level vocabularies)",
        );
      if (ids.length === 0 && text.trim() !== "")
        // BPE without an unknown token drops what its vocabulary lacks, silently.
        throw errors.dataOptionsInvalid(
          where,
          `the tokenizer gives no token for this text (${path}): its vocabulary has none of its pieces`,
          "use the tokenizer.json the model was trained with",
        );
      return ids;
    },
  };
}

async function readJson(path: string, what: string): Promise<unknown> {
  const text = new TextDecoder().decode(await readDataFile(path));
  try {
    return JSON.parse(text);
  } catch (error) {
    throw invalid(
      path,
      `${what} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

function invalid(path: string, detail: string) {
  return errors.dataOptionsInvalid(
    path,
    `not a tokenizer file the tokenizer library can read: ${detail}`,
    `point tokenizer at the model's tokenizer.json (Hugging Face format, as save_pretrained writes it), or use tokenizer: ${BYTES} for byte-level models`,
  );
}
