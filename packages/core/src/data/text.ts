import { extname } from "node:path";
import { errors } from "../diagnostics.js";
import { textOptionsSchema } from "../generated/options.js";
import { DataType } from "../ir/dtype.js";
import { Tensor } from "../ir/tensor.js";
import { defineDataSource } from "../plugin/define.js";
import type { DataRecord } from "../plugin/types.js";
import { readDataFile } from "./files.js";
import { labelTensor } from "./labels.js";
import {
  BYTES,
  byteTokenizer,
  loadTokenizer,
  type TextTokenizer,
  tokenizerFiles,
} from "./tokenizer.js";

/** The record keys (model input names) of the arrays a text record holds. */
export interface TextInputs {
  /**
   * The token ids.
   * @default "input_ids"
   */
  ids?: string;
  /**
   * The attention mask: 1 for tokens, 0 for padding.
   * @default "attention_mask"
   */
  mask?: string;
  /** Token type ids (all 0, one segment), for BERT-like models that read them. */
  typeIds?: string;
  /** Position ids 0, 1, … along the sequence, for exports that read them. */
  positions?: string;
}

/** Labels read from a JSONL field. */
export interface TextLabels {
  /** The JSONL field holding each line's label: a class index, a class name or a text. */
  field: string;
  /** Class names in class-index order: a label that is one of them becomes its index. */
  classes?: string[];
  /**
   * The record key the labels are stored under.
   * @default "label"
   */
  key?: string;
}

/** Options of the `text` data source. */
export interface TextOptions {
  /** A text file or a .jsonl file, relative to the recipe. */
  path: string;
  /**
   * `lines`: each non-empty line is a record; `jsonl`: each line is a JSON object whose `field`
   * is the text; `stream`: the whole file is one text, cut into windows of `maxLength` tokens
   * (language-model calibration and held-out evaluation). Default: `jsonl` for .jsonl files,
   * else `lines`.
   */
  format?: "lines" | "jsonl" | "stream";
  /**
   * The JSONL field holding the text.
   * @default "text"
   */
  field?: string;
  /**
   * The model's tokenizer.json (Hugging Face format; a tokenizer_config.json beside it is read
   * too), relative to the recipe, or `bytes`: UTF-8 bytes as ids, for byte-level models.
   */
  tokenizer: string;
  /**
   * Byte-level ids: added to every byte (models that keep the lowest ids for special tokens).
   * @integer @minimum 0
   * @default 0
   */
  byteOffset?: number;
  /**
   * Tokens per record at most (and the window length for `stream`).
   * @integer @minimum 1
   * @default 128
   */
  maxLength?: number;
  /**
   * `max-length` pads every record to maxLength (the mask marks the padding); `none` keeps each
   * as long as its text.
   * @default "none"
   */
  padding?: "none" | "max-length";
  /**
   * Cut texts longer than maxLength; false makes a longer text an error naming its line.
   * @default true
   */
  truncation?: boolean;
  /** The padding id; default: tokenizer.json's padding.pad_id, a [PAD]/<pad> token, else 0. */
  padId?: number;
  /**
   * Add the tokenizer's special tokens ([CLS] … [SEP], <s> … </s>) around each text.
   * @default true
   */
  addSpecialTokens?: boolean;
  /**
   * `stream`: tokens from one window's start to the next's; default maxLength (no overlap).
   * @integer @minimum 1
   */
  stride?: number;
  /** Record keys for the model inputs; a model reads the ones named after its inputs. */
  inputs?: TextInputs;
  /**
   * The element type of ids, mask, type ids and positions.
   * @default "int64"
   */
  dtype?: "int64" | "int32";
  /** Labels for task metrics, from a JSONL field. */
  labels?: TextLabels;
}

/** One text to encode, where it came from, and its label. */
interface TextItem {
  readonly text: string;
  readonly where: string;
  readonly label?: Tensor;
}

/**
 * Tokenized text, one record per line (or window): `{ input_ids: [1, L], attention_mask: [1, L] }`
 * (plus type ids, positions and the label when asked).
 */
export const textSource = defineDataSource<TextOptions>({
  id: "text",
  summary:
    "Lines or JSONL through the model's tokenizer.json (or bytes as ids): padding, truncation, masks, labels",
  options: textOptionsSchema,
  open(options, context) {
    const path = context.resolve(options.path);
    const format = options.format ?? (extname(path).toLowerCase() === ".jsonl" ? "jsonl" : "lines");
    if (options.labels && format !== "jsonl")
      throw errors.dataOptionsInvalid(
        path,
        `labels come from a JSONL field, but the file is read as ${format}`,
        "use a .jsonl file (or format: jsonl) with a label field, or leave labels out",
      );
    const settings = {
      maxLength: options.maxLength ?? 128,
      pad: (options.padding ?? "none") === "max-length",
      truncation: options.truncation ?? true,
      special: options.addSpecialTokens ?? true,
      dataType: options.dtype === "int32" ? DataType.INT32 : DataType.INT64,
      inputs: { ids: "input_ids", mask: "attention_mask", ...options.inputs },
      labelKey: options.labels?.key ?? "label",
    };
    const tokenizer = async (): Promise<TextTokenizer> =>
      options.tokenizer === BYTES
        ? byteTokenizer(options.byteOffset ?? 0)
        : loadTokenizer(context.resolve(options.tokenizer));
    return {
      name: "text",
      // A record per non-empty line, known without tokenizing; windows depend on the tokens.
      ...(format === "stream"
        ? {}
        : {
            async count() {
              const text = new TextDecoder().decode(await readDataFile(path));
              return text.split(/\r?\n/).filter((line) => line.trim() !== "").length;
            },
          }),
      async *records(): AsyncIterable<DataRecord> {
        const encoder = await tokenizer();
        const padId = options.padId ?? encoder.padId;
        const text = new TextDecoder().decode(await readDataFile(path));
        const record = (ids: readonly number[], label?: Tensor) =>
          textRecord(ids, settings, padId, label);
        if (format === "stream") {
          const ids = encoder.encode(text, false, path);
          const stride = options.stride ?? settings.maxLength;
          for (let start = 0; start < ids.length; start += stride) {
            yield record(ids.slice(start, start + settings.maxLength));
            if (start + settings.maxLength >= ids.length) break;
          }
          return;
        }
        for (const item of textItems(text, path, format, options)) {
          let ids = encoder.encode(item.text, settings.special, item.where);
          if (ids.length > settings.maxLength) {
            if (!settings.truncation)
              throw errors.dataOptionsInvalid(
                item.where,
                `${ids.length} tokens, more than maxLength (${settings.maxLength}), and truncation is off`,
                "raise maxLength, shorten the text, or set truncation: true",
              );
            ids = ids.slice(0, settings.maxLength);
          }
          yield record(ids, item.label);
        }
      },
    };
  },
  files(options, context) {
    const path = context.resolve(options.path);
    return options.tokenizer === BYTES
      ? [path]
      : [path, ...tokenizerFiles(context.resolve(options.tokenizer))];
  },
});

function* textItems(
  text: string,
  path: string,
  format: "lines" | "jsonl",
  options: TextOptions,
): Generator<TextItem> {
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === "") continue;
    const where = `${path}:${i + 1}`;
    if (format === "lines") {
      yield { text: line, where };
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw errors.dataOptionsInvalid(
        where,
        `not a JSON line: ${error instanceof Error ? error.message : String(error)}`,
        "write one JSON object per line (JSONL), or read the file with format: lines",
      );
    }
    const field = options.field ?? "text";
    const content = (value as Record<string, unknown> | null)?.[field];
    if (typeof content !== "string")
      throw errors.dataOptionsInvalid(
        where,
        `the line has no text field "${field}"`,
        "name the field holding the text with field: <name>",
      );
    const labels = options.labels;
    if (!labels) {
      yield { text: content, where };
      continue;
    }
    const raw = (value as Record<string, unknown>)[labels.field];
    if (raw === undefined)
      throw errors.dataOptionsInvalid(
        where,
        `the line has no label field "${labels.field}"`,
        "give every line a label, or name the right field with labels.field",
      );
    yield { text: content, where, label: labelTensor(raw, labels.classes, where) };
  }
}

interface RecordSettings {
  readonly maxLength: number;
  readonly pad: boolean;
  readonly dataType: DataType;
  readonly inputs: TextInputs & { ids: string; mask: string };
  readonly labelKey: string;
}

/** ids → the record: ids, mask, and the optional type ids, positions and label, as [1, L]. */
function textRecord(
  ids: readonly number[],
  settings: RecordSettings,
  padId: number,
  label: Tensor | undefined,
): DataRecord {
  const length = settings.pad ? settings.maxLength : ids.length;
  const tensor = (values: (i: number) => number) => {
    const array = Array.from({ length }, (_, i) => values(i));
    return settings.dataType === DataType.INT64
      ? Tensor.fromArray(DataType.INT64, [1, length], array.map(BigInt))
      : Tensor.fromArray(DataType.INT32, [1, length], array);
  };
  const { inputs } = settings;
  const record: Record<string, Tensor> = {
    [inputs.ids]: tensor((i) => (i < ids.length ? ids[i]! : padId)),
    [inputs.mask]: tensor((i) => (i < ids.length ? 1 : 0)),
  };
  if (inputs.typeIds) record[inputs.typeIds] = tensor(() => 0);
  if (inputs.positions) record[inputs.positions] = tensor((i) => i);
  if (label) record[settings.labelKey] = label;
  return record;
}
