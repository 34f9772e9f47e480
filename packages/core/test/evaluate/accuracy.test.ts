import { randomUUID } from "node:crypto";
import { join } from "node:path";
import {
  accuracyMetric,
  createBuilder,
  type DataRecord,
  DataType,
  isLatheError,
  type MetricContext,
  saveModel,
  singleModelBundle,
  Tensor,
} from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, describe, expect, it } from "vitest";

const tempDir = tempDirs(afterAll);

const root = tempDir("lathe-accuracy-");

/** scores = x · W: three classes from four features. */
const W = [1, 0, 0, 0, 1, 0, 0, 0, 1, 0.5, 0.5, -1];

function records(labels: number[][]): DataRecord[] {
  // Row r of record i is one-hot on feature (i + r) % 3: its argmax is that class.
  return labels.map((rowLabels, i) => {
    const x = rowLabels.flatMap((_, r) => [0, 1, 2, 3].map((f) => (f === (i + r) % 3 ? 2 : 0)));
    return {
      x: Tensor.fromArray(DataType.FLOAT, [rowLabels.length, 4], x),
      label: Tensor.fromArray(DataType.INT64, [rowLabels.length], rowLabels.map(BigInt)),
    };
  });
}

async function measure(data: DataRecord[], options: Record<string, unknown> = {}) {
  const b = createBuilder({ opset: 17 });
  const x = b.input("x", DataType.FLOAT, ["batch", 4]);
  b.output(b.MatMul(x, b.constant(W, [4, 3])), "scores");
  const path = join(root, `m${randomUUID()}.onnx`);
  await saveModel(b.build(), path);
  const context = {
    sessions: undefined as never,
    reference: singleModelBundle(b.build()),
    candidatePath: path,
    referencePath: path,
    target: { providers: ["cpu"], fallback: false, threads: 1, shapes: {} },
    seed: 0,
    data: (name: string) => ({
      name,
      async *records() {
        yield* data;
      },
    }),
    logger: { debug() {}, info() {}, warn() {} },
    shared: <T>(_: string, compute: () => Promise<T>) => compute(),
    signal: new AbortController().signal,
    options: { data: "eval", labels: "label", samples: 0, ...options },
  } as unknown as MetricContext & { options: never };
  return accuracyMetric.measure(undefined as never, context);
}

describe("core/accuracy", () => {
  it("top-1 against the data set's labels, rows in order, the label key not fed", async () => {
    // Record 0 rows → classes 0, 1; record 1 → 1, 2; record 2 → 2, 0. Two labels are wrong.
    const data = records([
      [0, 1],
      [1, 0],
      [2, 1],
    ]);
    expect(await measure(data)).toEqual({ top1: 4 / 6, count: 6 });
    expect(await measure(data, { samples: 1 })).toEqual({ top1: 1, count: 2 });
  });

  it("a record without labels, or labels that do not match the rows, is a clear error", async () => {
    const missing = await measure(records([[0, 1]]), { labels: "y" }).catch((e: unknown) => e);
    expect(isLatheError(missing) && missing.message).toMatch(/record 0 has no "y"/);
    const [one] = records([[0, 1]]);
    const short = { ...one!, label: Tensor.fromArray(DataType.INT64, [1], [0n]) };
    const mismatch = await measure([short]).catch((e: unknown) => e);
    expect(isLatheError(mismatch) && mismatch.message).toMatch(/1 labels for 2 rows of "scores"/);
  });
});
