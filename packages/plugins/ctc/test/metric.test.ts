import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  createBuilder,
  createCpuSessions,
  type DataRecord,
  DataType,
  isLatheError,
  type MetricContext,
  singleModelBundle,
  Tensor,
} from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, describe, expect, it } from "vitest";
import { type RecognitionMetricOptions, recognitionMetric } from "../src/metric.js";

const tempDir = tempDirs(afterAll);

const root = tempDir("lathe-ctc-");
await writeFile(join(root, "keys.txt"), "a\nb\ne\n");
const CLASSES = 5; // blank, a, b, e, space

/** A recognizer that outputs its input: the scores are the record's own one-hot steps. */
function recognizer() {
  const b = createBuilder({ opset: 17 });
  const x = b.input("x", DataType.FLOAT, ["batch", "steps", CLASSES]);
  b.output(b.Identity(x), "scores");
  return singleModelBundle(b.build());
}

/** One record: the class of every step of one row, and its transcript. */
function record(steps: number[], text: string | number): DataRecord {
  const x = steps.flatMap((c) => Array.from({ length: CLASSES }, (_, k) => (k === c ? 1 : 0)));
  return {
    x: Tensor.fromArray(DataType.FLOAT, [1, steps.length, CLASSES], x),
    text:
      typeof text === "string"
        ? Tensor.fromStrings([1], [text])
        : Tensor.fromArray(DataType.INT64, [1], [BigInt(text)]),
  };
}

async function measure(data: DataRecord[], options: Partial<RecognitionMetricOptions> = {}) {
  const context = {
    sessions: createCpuSessions({ threads: 1 }),
    data: (name: string) => ({
      name,
      async *records() {
        yield* data;
      },
    }),
    resolve: (path: string) => join(root, path),
    logger: { debug() {}, info() {}, warn() {} },
    signal: new AbortController().signal,
    options: {
      data: "lines",
      labels: "text",
      alphabet: "keys.txt",
      blank: 0,
      append: [" "],
      trim: true,
      samples: 0,
      ...options,
    },
  } as unknown as MetricContext & { options: RecognitionMetricOptions };
  return recognitionMetric.measure(recognizer(), context);
}

describe("ctc/recognition", () => {
  it("decodes the model's outputs on ORT and scores them against the transcripts", async () => {
    const data = [
      record([1, 1, 0, 2, 4], "ab"), // "ab " read, trimmed: exact
      record([3, 0, 3, 4, 1], "ee a"), // exact
      record([3, 3, 4, 1, 2], "ee ab"), // "e ab": one edit in 5
    ];
    expect(await measure(data)).toEqual({ cer: 1 / 11, exact: 2 / 3, count: 3 });
    expect(await measure(data, { trim: false })).toMatchObject({ exact: 1 / 3 });
    expect(await measure(data, { samples: 1 })).toEqual({ cer: 0, exact: 1, count: 1 });
  });

  it("says what to fix: no text labels, the wrong alphabet, an unknown output", async () => {
    const fail = (data: DataRecord[], options: Partial<RecognitionMetricOptions> = {}) =>
      measure(data, options).then(
        () => undefined,
        (e: unknown) => e,
      );
    const numeric = await fail([record([1], 7)]);
    expect(isLatheError(numeric) && numeric.code).toBe("RECOGNITION_LABELS");
    const wrongAlphabet = await fail([record([1], "a")], { append: [] });
    expect(isLatheError(wrongAlphabet) && wrongAlphabet.code).toBe("RECOGNITION_ALPHABET");
    expect((wrongAlphabet as Error).message).toMatch(/dims \[1, 1, 5\].*with 4 classes/);
    const missing = await fail([record([1], "a")], { alphabet: "nope.txt" });
    expect(isLatheError(missing) && missing.code).toBe("RECOGNITION_ALPHABET");
    const output = await fail([record([1], "a")], { output: "logits" });
    expect(isLatheError(output) && output.hint).toMatch(/scores/);
  });
});
