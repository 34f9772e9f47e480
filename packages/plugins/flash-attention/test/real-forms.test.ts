import { createBuilder, DataType, formatTrace, type Model, Tensor, type Value } from "@lathe/core";
import {
  int64Tensor,
  maxOutputDiff,
  opCounts,
  openOrtSession,
  randomFloat32Tensor,
  randomFloats,
} from "@lathe/core/testing";
import type * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { rewritten } from "./helpers.js";

/**
 * The attention forms real exporters write besides the zoo's (issue 14), built by hand so the
 * rules are tested without PyTorch; test/corpus runs the same forms as PyTorch exports them.
 */
const [N, H, D] = [4, 8, 32];

interface FormOptions {
  /** How Q, K and V are laid out between the projections and the score MatMul. */
  layout?: "bnsh" | "packed" | "batch-heads" | "seq-first";
  /**
   * Packed QKV: how q, k, v are taken from the [3, b, n, s, h] tensor; `ort-gather`/`ort-split`
   * as ONNX Runtime's transpose optimizer leaves it, the permutation moved below the take (q, v
   * `Transpose[0,2,1,3](qkv5d[:, :, i])` or `Squeeze(Transpose[2,0,3,1,4](Split(qkv5d)[i]), 0)`,
   * the key `qkv5d[:, :, 1]` as [b, s, n, h] before its `Transpose[0,2,3,1]`).
   */
  take?: "gather" | "split" | "slice" | "ort-gather" | "ort-split";
  /** Packed QKV near miss: the permutation after the 5-D reshape. */
  packedPerm?: number[];
  /** Batch-heads near miss: q and k reshaped to (b·n, s, h) straight from the projection. */
  mergedWithoutSplit?: boolean;
  /** GPT-2 (transformers 3.x): a Shape of the scaled scores feeds the rest of the graph. */
  scoresShape?: boolean;
  /** Keys and values with N / repeatKv heads widened by transformers' repeat_kv. */
  repeatKv?: number;
  /** A BERT padding mask on the scores (non-causal). */
  padding?: boolean;
}

function block(options: FormOptions = {}): Model {
  const layout = options.layout ?? "bnsh";
  const b = createBuilder({ opset: 17 });
  const x = b.input("x", DataType.FLOAT, ["batch", "seq", D]);
  const weight = (seed: number, cols = D) =>
    b.constant(
      randomFloats(D * cols, seed).map((w) => w * 0.3),
      [D, cols],
    );
  const heads = (t: Value, n = N) =>
    b.Transpose(b.Reshape(t, b.int64s([0, 0, n, H])), { perm: [0, 2, 1, 3] });
  const toBatchHeads = (t: Value) =>
    b.Reshape(
      t,
      b.Concat(b.int64s([-1]), b.Slice(b.Shape(t), b.int64s([2]), b.int64s([4])), { axis: 0 }),
    );
  let q: Value;
  let k: Value;
  let v: Value;
  let keyT: Value;
  if (layout === "packed") {
    // [0, s, 3, n, h] built as Concat(Cast(Constant), Unsqueeze(seq), Cast(Constant))
    const int32 = (values: number[]) =>
      b.Cast(b.constant(Int32Array.from(values), [values.length], DataType.INT32), {
        to: DataType.INT64,
      });
    const seq = b.Gather(b.Shape(x), b.int64s([1]), { axis: 0 });
    const shape = b.Concat(int32([0]), seq, int32([3, N, H]), { axis: 0 });
    const qkv5d = b.Reshape(b.MatMul(x, weight(1, 3 * D)), shape);
    if (options.take === "ort-gather" || options.take === "ort-split") {
      const index = (i: number) => b.constant([i], [], DataType.INT64);
      const parts = b.node("Split", [qkv5d, b.int64s([1, 1, 1])], { axis: 2 }, { outputs: 3 });
      const bnsh = (i: number): Value =>
        options.take === "ort-split"
          ? b.Squeeze(b.Transpose(parts.outputs[i]!, { perm: [2, 0, 3, 1, 4] }), b.int64s([0]))
          : b.Transpose(b.Gather(qkv5d, index(i), { axis: 2 }), { perm: [0, 2, 1, 3] });
      [q, v] = [bnsh(0), bnsh(2)];
      k =
        options.take === "ort-split"
          ? b.Squeeze(parts.outputs[1]!, b.int64s([2]))
          : b.Gather(qkv5d, index(1), { axis: 2 });
      if (options.take !== "ort-split") b.graph.remove(parts);
      keyT = b.Transpose(k, { perm: [0, 2, 3, 1] });
    } else {
      const qkv = b.Transpose(qkv5d, { perm: options.packedPerm ?? [2, 0, 3, 1, 4] });
      const parts = b.node("Split", [qkv, b.int64s([1, 1, 1])], { axis: 0 }, { outputs: 3 });
      const take = (i: number): Value => {
        if (options.take === "split") return b.Squeeze(parts.outputs[i]!, b.int64s([0]));
        if (options.take === "slice")
          return b.Squeeze(
            b.Slice(qkv, b.int64s([i]), b.int64s([i + 1]), b.int64s([0])),
            b.int64s([0]),
          );
        return b.Gather(qkv, b.constant([i], [], DataType.INT64), { axis: 0 });
      };
      [q, k, v] = [take(0), take(1), take(2)];
      if (options.take !== "split") b.graph.remove(parts);
      keyT = b.Transpose(k, { perm: [0, 1, 3, 2] });
    }
  } else if (layout === "seq-first") {
    // nn.MultiheadAttention: x is (seq, batch, embed); q.view(s, b·n, h).transpose(0, 1)
    const view = (t: Value) => b.Reshape(t, b.int64s([0, -1, H]));
    q = b.Transpose(view(b.MatMul(x, weight(1))), { perm: [1, 0, 2] });
    const kView = view(b.MatMul(x, weight(2)));
    keyT = b.Transpose(kView, { perm: [1, 2, 0] });
    v = b.Transpose(view(b.MatMul(x, weight(3))), { perm: [1, 0, 2] });
    k = kView;
  } else {
    const kvHeads = N / (options.repeatKv ?? 1);
    q = heads(b.MatMul(x, weight(1)));
    k = heads(b.MatMul(x, weight(2, kvHeads * H)), kvHeads);
    v = heads(b.MatMul(x, weight(3, kvHeads * H)), kvHeads);
    if (options.repeatKv) {
      // repeat_kv: x[:, :, None].expand(b, kv, g, s, h).reshape(b, kv·g, s, h)
      const repeat = (t: Value) => {
        const shape = b.Shape(t);
        const part = (i: number) => b.Gather(shape, b.int64s([i]), { axis: 0 });
        const expanded = b.Expand(
          b.Unsqueeze(t, b.int64s([2])),
          b.Concat(part(0), b.int64s([kvHeads, options.repeatKv!]), part(2), part(3), { axis: 0 }),
        );
        return b.Reshape(expanded, b.Concat(part(0), b.int64s([N]), part(2), part(3), { axis: 0 }));
      };
      [k, v] = [repeat(k), repeat(v)];
    }
    if (layout === "batch-heads") {
      const merge = options.mergedWithoutSplit
        ? (t: Value) => b.Reshape(t, b.int64s([-1, 0, H]))
        : toBatchHeads;
      q = options.mergedWithoutSplit ? merge(b.MatMul(x, weight(1))) : merge(q);
      k = options.mergedWithoutSplit ? merge(b.MatMul(x, weight(2))) : merge(k);
      v = merge(v);
      keyT = b.Transpose(k, { perm: [0, 2, 1] });
    } else {
      keyT = b.Transpose(k, { perm: [0, 1, 3, 2] });
    }
  }
  const scores = b.MatMul(layout === "seq-first" ? b.Div(q, b.scalar(Math.sqrt(H))) : q, keyT);
  let logits =
    layout === "seq-first"
      ? scores
      : layout === "batch-heads"
        ? // diffusers' baddbmm(empty, q, kᵀ, beta=0, alpha=scale)
          b.Add(
            b.Mul(scores, b.scalar(1 / Math.sqrt(H))),
            b.Mul(b.ConstantOfShape(b.Shape(scores)), b.scalar(0)),
          )
        : b.Div(scores, b.scalar(Math.sqrt(H)));
  if (options.padding) {
    const mask = b.input("attention_mask", DataType.INT64, ["batch", "seq"]);
    const expanded = b.Unsqueeze(mask, b.int64s([1, 2]));
    const inverted = b.Sub(b.scalar(1), b.Cast(expanded, { to: DataType.FLOAT }));
    logits = b.Add(logits, b.Mul(inverted, b.scalar(-10000)));
  }
  let rows: Value | undefined;
  if (options.scoresShape) rows = b.Gather(b.Shape(logits), b.int64s([2]), { axis: 0 });
  const context = b.MatMul(b.Softmax(logits, { axis: -1 }), v);
  let y: Value;
  if (layout === "batch-heads") {
    const split = b.Reshape(
      context,
      b.Concat(b.int64s([-1, N]), b.Slice(b.Shape(context), b.int64s([1]), b.int64s([3])), {
        axis: 0,
      }),
    );
    y = b.Reshape(b.Transpose(split, { perm: [0, 2, 1, 3] }), b.int64s([0, 0, D]));
  } else if (layout === "seq-first") {
    y = b.Reshape(b.Transpose(context, { perm: [1, 0, 2] }), b.int64s([0, -1, D]));
  } else {
    y = b.Reshape(b.Transpose(context, { perm: [0, 2, 1, 3] }), b.int64s([0, 0, D]));
  }
  b.output(y, "y", DataType.FLOAT);
  if (rows) b.output(b.Cast(rows, { to: DataType.FLOAT }), "rows", DataType.FLOAT);
  return b.build();
}

async function expectExact(original: Model, model: Model, padding = false) {
  const [a, b] = [await openOrtSession(original), await openOrtSession(model)];
  for (const seq of [3, 9, 17]) {
    const feeds: Record<string, ort.Tensor> = { x: randomFloat32Tensor([2, seq, D], seq) };
    if (padding) {
      const mask = new BigInt64Array(2 * seq).fill(1n);
      mask[seq] = 0n; // the second row is left-padded by two tokens
      mask[seq + 1] = 0n;
      feeds.attention_mask = int64Tensor(mask, [2, seq]);
    }
    expect(maxOutputDiff(await a.run(feeds), await b.run(feeds)), `seq ${seq}`).toBeLessThanOrEqual(
      1e-4,
    );
  }
}

describe("real-export forms: fused, exact on ORT", () => {
  it.each([
    {
      name: "a Shape of the scaled scores (issue 14, failure 1) is rewired",
      options: { scoresShape: true },
      rule: "unmasked",
    },
    {
      name: "packed QKV, q/k/v by Gather (issue 14, failure 2)",
      options: { layout: "packed" as const },
      rule: "unmasked",
    },
    {
      name: "packed QKV, q/k/v by Split + Squeeze",
      options: { layout: "packed" as const, take: "split" as const },
      rule: "unmasked",
    },
    {
      name: "packed QKV, q/k/v by Slice + Squeeze",
      options: { layout: "packed" as const, take: "slice" as const },
      rule: "unmasked",
    },
    {
      name: "packed QKV as ORT's transpose optimizer leaves it: Gather on axis 2, the key as [b, s, n, h]",
      options: { layout: "packed" as const, take: "ort-gather" as const },
      rule: "unmasked",
    },
    {
      name: "packed QKV as ORT's transpose optimizer leaves it: Split on axis 2, Transpose, Squeeze",
      options: { layout: "packed" as const, take: "ort-split" as const },
      rule: "unmasked",
    },
    {
      name: "diffusers' baddbmm (beta 0) and bmm in (batch·heads, seq, head)",
      options: { layout: "batch-heads" as const },
      rule: "additive-mask",
    },
    {
      name: "nn.MultiheadAttention's (seq, batch·heads, head) layout",
      options: { layout: "seq-first" as const },
      rule: "unmasked",
    },
    {
      name: "non-causal grouped-query attention (repeat_kv) with a padding mask",
      options: { repeatKv: 2, padding: true },
      rule: "additive-mask",
    },
  ])("$name", async ({ options, rule }) => {
    const original = block(options);
    const { model, report } = await rewritten(original);
    expect(report.fused, formatTrace(report.trace).join("\n")).toEqual({ [rule]: 1 });
    expect(opCounts(model).MultiHeadAttention).toBe(1);
    expect(opCounts(model).Softmax).toBeUndefined();
    await expectExact(original, model, options.padding);
  });

  it("says in the trace which shape reader it rewired", async () => {
    const { report } = await rewritten(block({ scoresShape: true }));
    const rewired = report.trace[0]?.outcomes.find((o) => o.fused)?.rewired ?? [];
    expect(rewired).toEqual([
      expect.stringMatching(/^Shape ".*" \(it reads only the shape of ".*Div_output_0"\)/),
    ]);
  });
});

describe("real-export forms: near misses are declined with the reason", () => {
  it.each([
    {
      name: "packed QKV with another permutation (the heads are not where the rules read them)",
      options: { layout: "packed" as const, packedPerm: [2, 0, 1, 3, 4] },
      reason: /cannot tell the number of query heads/,
    },
    {
      name: "(batch·heads, seq, head) reshaped straight from the projection (no head split)",
      options: { layout: "batch-heads" as const, mergedWithoutSplit: true },
      reason: /cannot tell the number of (query|key\/value) heads/,
    },
  ])("$name", async ({ options, reason }) => {
    const original = block(options);
    const { model, report } = await rewritten(original);
    expect(report.modified).toBe(false);
    expect(Object.keys(report.declined).join("\n")).toMatch(reason);
    expect(opCounts(model)).toEqual(opCounts(original));
  });
});

/**
 * LLaMA's cached causal mask as transformers 4.35 builds it: `_make_causal_mask` rows
 * (Where(arange < (arange + 1).view(S, 1), 0, full(min))) after `zeros(S, past)`, unsqueezed and
 * expanded, added to the scores of keys and values concatenated after the cache.
 * `cacheFill` other than 0 is a near miss: the cache columns are masked, not causal.
 */
function cachedCausalBlock(cacheFill = 0): Model {
  const b = createBuilder({ opset: 17 });
  const x = b.input("x", DataType.FLOAT, ["batch", "seq", D]);
  const past = (name: string) => b.input(name, DataType.FLOAT, ["batch", N, "past", H]);
  const [pastKey, pastValue] = [past("past_key"), past("past_value")];
  const weight = (seed: number) =>
    b.constant(
      randomFloats(D * D, seed).map((w) => w * 0.3),
      [D, D],
    );
  const heads = (t: Value) =>
    b.Transpose(b.Reshape(t, b.int64s([0, 0, N, H])), { perm: [0, 2, 1, 3] });
  const q = heads(b.MatMul(x, weight(1)));
  const k = b.Concat(pastKey, heads(b.MatMul(x, weight(2))), { axis: 2 });
  const v = b.Concat(pastValue, heads(b.MatMul(x, weight(3))), { axis: 2 });
  const dim = (t: Value, i: number) => b.Gather(b.Shape(t), b.int64s([i]), { axis: 0 });
  const [batch, seq, cached] = [dim(x, 0), dim(x, 1), dim(pastKey, 2)];
  const seqScalar = b.Squeeze(seq, b.int64s([0]));
  const positions = b.Range(
    b.constant([0], [], DataType.INT64),
    seqScalar,
    b.constant([1], [], DataType.INT64),
  );
  const column = b.Reshape(
    b.Add(positions, b.constant([1], [], DataType.INT64)),
    b.Concat(seq, b.int64s([1]), { axis: 0 }),
  );
  const filled = (fill: number) => Tensor.fromArray(DataType.FLOAT, [1], [fill]);
  const full = b.ConstantOfShape(b.Concat(seq, seq, { axis: 0 }), {
    value: filled(-3.4028234663852886e38),
  });
  const rows = b.Where(b.Less(positions, column), b.scalar(0), full);
  const zeros = b.ConstantOfShape(b.Concat(seq, cached, { axis: 0 }), { value: filled(cacheFill) });
  const mask = b.Expand(
    b.Unsqueeze(b.Unsqueeze(b.Concat(zeros, rows, { axis: -1 }), b.int64s([0])), b.int64s([1])),
    b.Concat(batch, b.int64s([1]), seq, b.Add(seq, cached), { axis: 0 }),
  );
  const scores = b.Div(b.MatMul(q, b.Transpose(k, { perm: [0, 1, 3, 2] })), b.scalar(Math.sqrt(H)));
  const context = b.MatMul(b.Softmax(b.Add(scores, mask), { axis: -1 }), v);
  b.output(
    b.Reshape(b.Transpose(context, { perm: [0, 2, 1, 3] }), b.int64s([0, 0, D])),
    "y",
    DataType.FLOAT,
  );
  b.output(k, "present_key", DataType.FLOAT);
  b.output(v, "present_value", DataType.FLOAT);
  return b.build();
}

describe("LLaMA's cached causal mask (issue 14, failure 3)", () => {
  it("is causal: one fused op over the cache, exact over several caches", async () => {
    const original = cachedCausalBlock();
    const { model, report } = await rewritten(original);
    expect(report.fused, formatTrace(report.trace).join("\n")).toEqual({ "additive-mask": 1 });
    // on the CPU a cached causal step with one head count is MultiHeadAttention, unidirectional
    const [fused] = model.graph.nodes().filter((n) => n.opType === "MultiHeadAttention");
    expect(fused?.getInt("unidirectional", 0)).toBe(1);
    expect(opCounts(model).Softmax).toBeUndefined();
    const [a, b] = [await openOrtSession(original), await openOrtSession(model)];
    for (const [batch, pastLength, seq] of [
      [1, 0, 5],
      [1, 4, 3],
      [1, 9, 1],
      [2, 4, 3],
      [2, 9, 1],
    ] as const) {
      const feeds = {
        x: randomFloat32Tensor([batch, seq, D], seq),
        past_key: randomFloat32Tensor([batch, N, pastLength, H], 100 + pastLength),
        past_value: randomFloat32Tensor([batch, N, pastLength, H], 200 + pastLength),
      };
      const diff = maxOutputDiff(await a.run(feeds), await b.run(feeds));
      expect(diff, `batch ${batch}, past ${pastLength}, seq ${seq}`).toBeLessThanOrEqual(1e-4);
    }
  });

  it("near miss: cache columns filled with something else than 0 are not causal", async () => {
    const { report } = await rewritten(cachedCausalBlock(-1));
    expect(report.modified).toBe(false);
    expect(Object.keys(report.declined)).toEqual([
      "non-causal attention over a KV cache has no contrib replacement here",
    ]);
  });
});
