import {
  createBuilder,
  DataType,
  type Model,
  runPassStandalone,
  singleModelBundle,
  Tensor,
} from "@lathe/core";
import { gpt2, llama } from "@lathe/plugin-zoo";
import { describe, expect, it } from "vitest";
import { structuredPass } from "../src/index.js";
import { clone, feedsFor, maxAbsDiff, run, weight } from "./structured-helpers.js";

const K = 4;
const H = 8;
const N = 4;
// channel c of the hidden layer: big weights on quiet inputs for some, small on loud for others
const W1 = Float32Array.from({ length: K * H }, (_, i) => {
  const c = i % H;
  return (c % 2 ? 3 : 0.5) * Math.sin(i + 1);
});
const B1 = Float32Array.from({ length: H }, (_, c) => (c < 4 ? 2 : 0.1));
const W2 = Float32Array.from({ length: H * N }, (_, i) => {
  const c = Math.floor(i / N);
  return (c % 3 ? 0.4 : 2) * Math.cos(i + 2);
});

/** x [rows, 4] → MatMul W1 + b1 → Relu → MatMul W2 → y. */
function mlp(): Model {
  const b = createBuilder({ opset: 17 });
  const x = b.input("x", DataType.FLOAT, ["rows", K]);
  const h = b.Relu(
    b.Add(
      b.MatMul(x, b.constant(W1, [K, H], DataType.FLOAT, "w1")),
      b.constant(B1, [H], DataType.FLOAT, "b1"),
    ),
  );
  b.output(b.MatMul(h, b.constant(W2, [H, N], DataType.FLOAT, "w2")), "y");
  return b.build();
}

// inputs whose channels have different scales and offsets
const records = Array.from({ length: 6 }, (_, r) => ({
  x: Tensor.fromArray(
    DataType.FLOAT,
    [5, K],
    Float32Array.from(
      { length: 5 * K },
      (_, i) => (1 + (i % K)) * Math.sin(3 * i + r) + (i % K === 0 ? 2 : 0),
    ),
  ),
}));

/** The hidden activations relu(x W1 + b1) over every record's rows, in TypeScript. */
function hidden(): number[][] {
  const rows: number[][] = [];
  for (const r of records) {
    const x = r.x.toArray() as Float32Array;
    for (let t = 0; t < 5; t++)
      rows.push(
        Array.from({ length: H }, (_, c) => {
          let v = B1[c]!;
          for (let k = 0; k < K; k++) v += x[t * K + k]! * W1[k * H + c]!;
          return Math.max(0, v);
        }),
      );
  }
  return rows;
}

function referenceScores(criterion: string): number[] {
  const hs = hidden();
  return Array.from({ length: H }, (_, c) => {
    const row = Array.from({ length: N }, (_, n) => W2[c * N + n]!);
    const col = Array.from({ length: K }, (_, k) => W1[k * H + c]!);
    const values = hs.map((h) => h[c]!);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    switch (criterion) {
      case "magnitude":
        return Math.sqrt([...row, ...col].reduce((a, w) => a + w * w, 0));
      case "wanda":
        return (
          Math.sqrt(values.reduce((a, v) => a + v * v, 0)) *
          row.reduce((a, w) => a + Math.abs(w), 0)
        );
      default:
        return (
          (values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1)) *
          row.reduce((a, w) => a + w * w, 0)
        );
    }
  });
}

/** Which rows of w2 the pruned model kept (rows are copied as they were). */
function keptRows(model: Model): number[] {
  const w2 = weight(model, "w2").toArray() as Float32Array;
  const kept: number[] = [];
  for (let j = 0; j < w2.length / N; j++)
    for (let c = 0; c < H; c++)
      if (Array.from({ length: N }, (_, n) => W2[c * N + n] === w2[j * N + n]).every(Boolean))
        kept.push(c);
  return kept;
}

describe("prune/structured importance", () => {
  const removedBy: Record<string, number[]> = {};
  it.each(["magnitude", "wanda", "flap"] as const)(
    "%s removes the channels with the lowest reference score",
    async (criterion) => {
      const run = await runPassStandalone(structuredPass, singleModelBundle(mlp()), {
        options: { channels: 0.25, multipleOf: 1, criterion, data: "calibration" },
        data: { calibration: records },
      });
      const model = run.result.bundle.components.get("model")!;
      const scores = referenceScores(criterion);
      const expected = scores
        .map((s, c) => ({ s, c }))
        .sort((a, b) => a.s - b.s || a.c - b.c)
        .slice(0, 2)
        .map((e) => e.c)
        .sort();
      const kept = keptRows(model);
      const removed = Array.from({ length: H }, (_, c) => c).filter((c) => !kept.includes(c));
      expect(removed).toEqual(expected);
      removedBy[criterion] = removed;
      expect(weight(model, "w1").dims).toEqual([K, H - 2]);
      expect(weight(model, "b1").dims).toEqual([H - 2]);
    },
  );

  it("the three criteria do not all agree on this layer (the test can tell them apart)", () => {
    const sets = new Set(Object.values(removedBy).map((r) => r.join()));
    expect(sets.size).toBeGreaterThan(1);
  });

  it("rounds the kept width to multipleOf", async () => {
    const run = await runPassStandalone(structuredPass, singleModelBundle(mlp()), {
      options: { channels: 0.3, multipleOf: 4 },
    });
    expect(weight(run.result.bundle.components.get("model")!, "w2").dims).toEqual([4, N]);
  });

  it("skips a layer whose reading weight is computed at run time, and says why", async () => {
    const b = createBuilder({ opset: 17 });
    const x = b.input("x", DataType.FLOAT, ["rows", K]);
    const w2 = b.input("w2", DataType.FLOAT, [H, N]);
    const h = b.Relu(b.MatMul(x, b.constant(W1, [K, H], DataType.FLOAT, "w1")));
    b.output(b.MatMul(h, w2), "y");
    const run = await runPassStandalone(structuredPass, singleModelBundle(b.build()), {
      options: { channels: 0.5, multipleOf: 1 },
    });
    expect(run.result.modified).toBe(false);
    const reasons = Object.keys(run.result.statistics ?? {}).filter((k) =>
      k.startsWith("skipped: "),
    );
    expect(reasons).toEqual([
      "skipped: the layer reading the units has a weight computed at run time (not a constant)",
    ]);
  });
});

describe("prune/structured include/exclude", () => {
  const llamaTiny = () =>
    llama.build(llama.presets.tiny, { seed: 3 }).components.get("model") as Model;
  it.each([
    { options: { include: ["self_attn"] }, heads: 2, channels: 0 },
    // k_proj is one of the head groups' producers: the heads stay, the MLPs go
    { options: { exclude: ["k_proj"] }, heads: 0, channels: 88 },
  ])("$options: a group is pruned when all its producing layers are selected", async (m) => {
    const result = await runPassStandalone(structuredPass, singleModelBundle(llamaTiny()), {
      options: { heads: 0.5, channels: 0.25, multipleOf: 4, ...m.options },
    });
    const stats = result.result.statistics ?? {};
    expect(stats["heads-removed"]).toBe(m.heads);
    expect(stats["channels-removed"]).toBe(m.channels);
    expect(stats["skipped: not selected by include/exclude"]).toBeGreaterThan(0);
  });
});

describe("prune/structured global ratio", () => {
  it("removes the asked share of all blocks' channels together", async () => {
    const original = gpt2.build(gpt2.presets.tiny, { seed: 3 }).components.get("model") as Model;
    const result = await runPassStandalone(structuredPass, singleModelBundle(clone(original)), {
      options: { channels: 0.25, global: true, multipleOf: 1 },
    });
    const stats = result.result.statistics ?? {};
    expect(stats["channels-removed"]).toBe(128); // 25 % of 2 × 256
    const perBlock = Object.entries(stats)
      .filter(([k]) => k.startsWith("removed.") && k.includes("c_fc"))
      .map(([, v]) => v);
    expect(perBlock).toHaveLength(2);
  });
});

describe("prune/structured layers", () => {
  it("drops the block of least influence: equal to the original with that block's output layers zeroed", async () => {
    const original = gpt2
      .build({ ...gpt2.presets.tiny, layers: 3 }, { seed: 3 })
      .components.get("model") as Model;
    const calibration = Array.from({ length: 4 }, (_, i) => feedsFor(original, i));
    const result = await runPassStandalone(structuredPass, singleModelBundle(clone(original)), {
      options: { layers: 1, data: "calibration", samples: 4 },
      data: { calibration },
    });
    const stats = result.result.statistics ?? {};
    expect(stats["blocks-removed"]).toBe(1);
    const influences = Object.entries(stats).filter(([k]) => k.startsWith("block-influence."));
    expect(influences).toHaveLength(3);
    const dropped = String(stats["blocks-removed.model"]);
    const lowest = influences.sort((a, b) => (a[1] as number) - (b[1] as number))[0]![0];
    expect(lowest.endsWith(dropped)).toBe(true);
    // the block /transformer/h.<i>/ adds attn c_proj and mlp c_proj outputs to the residual:
    // zeroing their weights and biases makes it the identity
    const prefix = dropped.slice(0, dropped.lastIndexOf("/") + 1);
    const reference = clone(original);
    for (const node of reference.graph.nodes()) {
      if (!node.name.startsWith(prefix) || !node.name.endsWith("c_proj/Gemm")) continue;
      for (const input of node.inputs.slice(1)) {
        const t = input!.constValue as Tensor;
        input!.constValue = Tensor.fromArray(
          DataType.FLOAT,
          t.dims,
          new Float32Array(t.elementCount),
          { name: t.name },
        );
      }
    }
    const model = result.result.bundle.components.get("model")!;
    expect(model.graph.nodes().length).toBeLessThan(original.graph.nodes().length);
    const feeds = feedsFor(original, 9);
    expect(maxAbsDiff(await run(reference, feeds), await run(model, feeds))).toBeLessThanOrEqual(
      1e-4,
    );
  });
});
