import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  type DataRecord,
  DataType,
  isLatheError,
  type LatheError,
  type TextOptions,
  textSource,
} from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, describe, expect, test } from "vitest";

const tempDir = tempDirs(afterAll);

const root = tempDir("lathe-text-");

const special = (id: number, content: string) => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special: true,
});

/** A BERT-like tokenizer.json: lowercase, WordPiece with ##, [CLS] … [SEP], pad id 0. */
const wordPiece = {
  version: "1.0",
  truncation: null,
  padding: { pad_id: 0, pad_token: "[PAD]" },
  added_tokens: [
    special(0, "[PAD]"),
    special(1, "[UNK]"),
    special(2, "[CLS]"),
    special(3, "[SEP]"),
  ],
  normalizer: { type: "BertNormalizer", lowercase: true, strip_accents: null, clean_text: true },
  pre_tokenizer: { type: "BertPreTokenizer" },
  post_processor: {
    type: "TemplateProcessing",
    single: [
      { SpecialToken: { id: "[CLS]", type_id: 0 } },
      { Sequence: { id: "A", type_id: 0 } },
      { SpecialToken: { id: "[SEP]", type_id: 0 } },
    ],
    pair: [],
    special_tokens: {
      "[CLS]": { id: "[CLS]", ids: [2], tokens: ["[CLS]"] },
      "[SEP]": { id: "[SEP]", ids: [3], tokens: ["[SEP]"] },
    },
  },
  decoder: { type: "WordPiece", prefix: "##", cleanup: true },
  model: {
    type: "WordPiece",
    unk_token: "[UNK]",
    continuing_subword_prefix: "##",
    max_input_chars_per_word: 100,
    vocab: { "[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, hello: 4, world: 5, "##s": 6, "!": 7 },
  },
};

/** A GPT-2-like byte-level BPE: merges applied by rank, Ġ marks a leading space. */
const bytePairs = {
  version: "1.0",
  truncation: null,
  padding: null,
  added_tokens: [special(20, "<|endoftext|>")],
  normalizer: null,
  pre_tokenizer: {
    type: "ByteLevel",
    add_prefix_space: false,
    trim_offsets: true,
    use_regex: true,
  },
  post_processor: null,
  decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: {
    type: "BPE",
    dropout: null,
    unk_token: null,
    continuing_subword_prefix: "",
    end_of_word_suffix: "",
    fuse_unk: false,
    vocab: Object.fromEntries(
      [
        "h",
        "e",
        "l",
        "o",
        "w",
        "r",
        "d",
        "Ġ",
        "he",
        "ll",
        "llo",
        "hello",
        "Ġw",
        "or",
        "Ġwor",
        "ld",
        "Ġworld",
      ].map((token, id) => [token, id]),
    ),
    merges: ["h e", "l l", "ll o", "he llo", "Ġ w", "o r", "Ġw or", "l d", "Ġwor ld"],
  },
};

function folder(name: string, files: Record<string, string>): string {
  const dir = join(root, name);
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(join(dir, file, ".."), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  return dir;
}

async function read(dir: string, options: Partial<TextOptions>): Promise<DataRecord[]> {
  const set = textSource.open({ path: "t.txt", tokenizer: "bytes", ...options } as TextOptions, {
    resolve: (p) => resolve(dir, p),
  });
  const out: DataRecord[] = [];
  for await (const record of set.records()) out.push(record);
  return out;
}

async function failure(dir: string, options: Partial<TextOptions>): Promise<LatheError> {
  const error = await read(dir, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isLatheError(error)) throw new Error(`expected a LatheError, got ${String(error)}`);
  return error;
}

const ids = (record: DataRecord, key = "input_ids") => Array.from(record[key]!.toArray(), Number);

describe("text", () => {
  test("WordPiece tokenizer.json: special tokens, padding to maxLength with its pad id, mask", async () => {
    const dir = folder("wordpiece", {
      "tokenizer.json": JSON.stringify(wordPiece),
      "t.txt": "Hello worlds!\n\nworld\n",
    });
    const records = await read(dir, {
      tokenizer: "tokenizer.json",
      maxLength: 8,
      padding: "max-length",
      inputs: { typeIds: "token_type_ids", positions: "position_ids" },
    });
    expect(records).toHaveLength(2); // the empty line is no record
    expect(ids(records[0]!)).toEqual([2, 4, 5, 6, 7, 3, 0, 0]);
    expect(ids(records[0]!, "attention_mask")).toEqual([1, 1, 1, 1, 1, 1, 0, 0]);
    expect(ids(records[0]!, "token_type_ids")).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(ids(records[0]!, "position_ids")).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(records[0]!.input_ids!.dims).toEqual([1, 8]);
    expect(records[0]!.input_ids!.dataType).toBe(DataType.INT64);
    expect(ids(records[1]!)).toEqual([2, 5, 3, 0, 0, 0, 0, 0]);
    const set = textSource.open({ path: "t.txt", tokenizer: "tokenizer.json" } as TextOptions, {
      resolve: (p) => resolve(dir, p),
    });
    expect(await set.count!()).toBe(2);
  });

  test("byte-level BPE: merges by rank; truncation; no padding keeps each length; int32", async () => {
    const dir = folder("bpe", {
      "tokenizer.json": JSON.stringify(bytePairs),
      "t.txt": "hello world\nhold\n",
    });
    const records = await read(dir, { tokenizer: "tokenizer.json", dtype: "int32" });
    expect(ids(records[0]!)).toEqual([11, 16]); // hello, Ġworld
    expect(ids(records[1]!)).toEqual([0, 3, 15]); // h, o, ld: no "h o" merge
    expect(records[1]!.input_ids!.dataType).toBe(DataType.INT32);
    const cut = await read(dir, { tokenizer: "tokenizer.json", maxLength: 2 });
    expect(ids(cut[1]!)).toEqual([0, 3]);
    const strict = await failure(dir, {
      tokenizer: "tokenizer.json",
      maxLength: 2,
      truncation: false,
    });
    expect(strict.message).toMatch(/3 tokens, more than maxLength \(2\)/);
    expect(strict.where).toBe(`${join(dir, "t.txt")}:2`);
  });

  test("bytes mode: UTF-8 bytes as ids (plus an offset); stream windows with a stride", async () => {
    const dir = folder("bytes", { "t.txt": "aé\nb" });
    const [first] = await read(dir, { byteOffset: 3 });
    expect(ids(first!)).toEqual([0x61 + 3, 0xc3 + 3, 0xa9 + 3]);
    const windows = await read(dir, { format: "stream", maxLength: 3, stride: 2 });
    // The whole file's bytes: 61 c3 a9 0a 62 → windows at 0 and 2; the second reaches the end.
    expect(windows.map((r) => ids(r))).toEqual([
      [0x61, 0xc3, 0xa9],
      [0xa9, 0x0a, 0x62],
    ]);
    const padded = await read(dir, { format: "stream", maxLength: 3, padding: "max-length" });
    expect(padded.map((r) => ids(r, "attention_mask"))).toEqual([
      [1, 1, 1],
      [1, 1, 0],
    ]);
  });

  test("JSONL: the text field, labels from a field (indices, class names, transcripts)", async () => {
    const dir = folder("jsonl", {
      "t.jsonl": [
        { body: "ab", y: 2, name: "neg", transcript: "hello" },
        { body: "c", y: 0, name: "pos", transcript: "world" },
      ]
        .map((o) => JSON.stringify(o))
        .join("\n"),
    });
    const read1 = (labels: TextOptions["labels"]) =>
      read(dir, { path: "t.jsonl", field: "body", ...(labels ? { labels } : {}) });
    const plain = await read1(undefined);
    expect(plain.map((r) => ids(r))).toEqual([[0x61, 0x62], [0x63]]);
    expect((await read1({ field: "y" })).map((r) => ids(r, "label"))).toEqual([[2], [0]]);
    const named = await read1({ field: "name", classes: ["pos", "neg"], key: "cls" });
    expect(named.map((r) => ids(r, "cls"))).toEqual([[1], [0]]);
    const text = await read1({ field: "transcript" });
    expect(text.map((r) => r.label!.toStrings()[0])).toEqual(["hello", "world"]);
  });

  test("files() covers the text, tokenizer.json and tokenizer_config.json beside it", async () => {
    const dir = folder("keys", {
      "t.txt": "x",
      "tok/tokenizer.json": JSON.stringify(wordPiece),
      "tok/tokenizer_config.json": "{}",
    });
    const context = { resolve: (p: string) => resolve(dir, p) };
    expect(
      await textSource.files!(
        { path: "t.txt", tokenizer: "tok/tokenizer.json" } as TextOptions,
        context,
      ),
    ).toEqual([
      join(dir, "t.txt"),
      join(dir, "tok/tokenizer.json"),
      join(dir, "tok/tokenizer_config.json"),
    ]);
    expect(
      await textSource.files!({ path: "t.txt", tokenizer: "bytes" } as TextOptions, context),
    ).toEqual([join(dir, "t.txt")]);
  });

  test("clear errors: invalid tokenizer file, unknown token, bad JSONL, missing field", async () => {
    const dir = folder("errors", {
      "t.txt": "hello there",
      "broken.json": "{ not json",
      "nomodel.json": JSON.stringify({ version: "1.0" }),
      "badmodel.json": JSON.stringify({ ...wordPiece, model: { type: "Nope" } }),
      "nounk.json": JSON.stringify({
        ...bytePairs,
        pre_tokenizer: { type: "Whitespace" },
        model: { type: "WordLevel", vocab: { hello: 0 }, unk_token: "[UNK]" },
      }),
      "empty.json": JSON.stringify({
        ...bytePairs,
        model: { ...bytePairs.model, vocab: { x: 0 }, merges: [] },
      }),
      "t.jsonl": '{"text": "a"}\n{oops}\n',
      "nofield.jsonl": '{"body": "a"}\n',
    });
    const broken = await failure(dir, { tokenizer: "broken.json" });
    expect(broken.message).toMatch(/tokenizer\.json is not valid JSON/);
    expect(broken.where).toBe(join(dir, "broken.json"));
    expect(broken.hint).toMatch(/tokenizer: bytes/);
    expect((await failure(dir, { tokenizer: "nomodel.json" })).message).toMatch(/has no "model"/);
    expect((await failure(dir, { tokenizer: "badmodel.json" })).message).toMatch(
      /not a tokenizer file the tokenizer library can read/,
    );
    expect((await failure(dir, { tokenizer: "missing.json" })).code).toBe("FILE_NOT_FOUND");
    const unk = await failure(dir, { tokenizer: "nounk.json" });
    expect(unk.message).toMatch(/no id for the token "there" and no unknown token/);
    expect(unk.where).toBe(`${join(dir, "t.txt")}:1`);
    const empty = await failure(dir, { tokenizer: "empty.json" });
    expect(empty.message).toMatch(/the tokenizer gives no token for this text/);
    const jsonl = await failure(dir, { path: "t.jsonl" });
    expect(jsonl.message).toMatch(/not a JSON line/);
    expect(jsonl.where).toBe(`${join(dir, "t.jsonl")}:2`);
    expect((await failure(dir, { path: "nofield.jsonl" })).message).toMatch(/no text field "text"/);
    expect((await failure(dir, { path: "t.txt", labels: { field: "y" } })).message).toMatch(
      /labels come from a JSONL field/,
    );
  });
});
