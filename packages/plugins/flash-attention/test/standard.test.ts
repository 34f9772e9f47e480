import { createBuilder, DataType, type Model, Tensor, type Value } from "@lathe/core";
import {
  maxOutputDiff,
  opCounts,
  openOrtSession,
  randomFloat32Tensor,
  randomFloats,
} from "@lathe/core/testing";
import type * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { rewritten } from "./helpers.js";

const [N, H, D, P] = [4, 8, 32, 16];

/**
 * GPT-2's cached attention at opset 23: Concat([past, new]) caches, the causal mask sliced from a
 * lower-triangular buffer by key and query lengths, Where(mask, scores / √H, min).
 */
function causalCachedBlock(): Model {
  const b = createBuilder({ opset: 23 });
  const x = b.input("x", DataType.FLOAT, ["batch", "seq", D]);
  const pastK = b.input("past_key", DataType.FLOAT, ["batch", N, "past", H]);
  const pastV = b.input("past_value", DataType.FLOAT, ["batch", N, "past", H]);
  const weight = (seed: number) =>
    b.constant(
      randomFloats(D * D, seed).map((w) => w * 0.3),
      [D, D],
    );
  const heads = (t: Value) =>
    b.Transpose(b.Reshape(t, b.int64s([0, 0, N, H])), { perm: [0, 2, 1, 3] });
  const q = heads(b.MatMul(x, weight(1)));
  const k = b.Concat(pastK, heads(b.MatMul(x, weight(2))), { axis: 2 });
  const v = b.Concat(pastV, heads(b.MatMul(x, weight(3))), { axis: 2 });
  const scores = b.Div(b.MatMul(q, b.Transpose(k, { perm: [0, 1, 3, 2] })), b.scalar(Math.sqrt(H)));
  const tril = new Uint8Array(P * P);
  for (let r = 0; r < P; r++) tril.fill(1, r * P, r * P + r + 1);
  const buffer = b.initializer(Tensor.fromBytes(DataType.BOOL, [1, 1, P, P], tril), "bias");
  const length = (t: Value) =>
    b.Gather(b.Shape(t), b.constant([2], [], DataType.INT64), { axis: 0 });
  const [keyLength, queryLength] = [length(k), length(q)];
  const unsqueeze = (t: Value) => b.Unsqueeze(t, b.int64s([0]));
  const rows = b.Slice(
    buffer,
    unsqueeze(b.Sub(keyLength, queryLength)),
    unsqueeze(keyLength),
    b.int64s([2]),
    b.int64s([1]),
  );
  const causal = b.Slice(rows, b.int64s([0]), unsqueeze(keyLength), b.int64s([3]), b.int64s([1]));
  const masked = b.Where(causal, scores, b.scalar(-3.4028234663852886e38));
  const context = b.MatMul(b.Softmax(masked, { axis: -1 }), v);
  b.output(
    b.Reshape(b.Transpose(context, { perm: [0, 2, 1, 3] }), b.int64s([0, 0, D])),
    "y",
    DataType.FLOAT,
  );
  b.output(k, "present_key", DataType.FLOAT);
  b.output(v, "present_value", DataType.FLOAT);
  return b.build();
}

describe("prefer: standard on a causal, cached block (opset 23)", () => {
  it.each(["standard", "contrib"] as const)(
    "prefer %s is exact over prompts and decode steps",
    async (prefer) => {
      const original = causalCachedBlock();
      const { model, report } = await rewritten(original, { prefer });
      expect(report.fused).toEqual({ "causal-buffer": 1 });
      // contrib on the CPU: a cached causal step is MultiHeadAttention (unidirectional)
      expect(opCounts(model)[prefer === "standard" ? "Attention" : "MultiHeadAttention"]).toBe(1);
      expect(model.graph.outputs.map((o) => o.name)).toEqual(["y", "present_key", "present_value"]);
      const [a, b] = [await openOrtSession(original), await openOrtSession(model)];
      for (const [past, seq] of [
        [0, 5],
        [3, 1],
        [7, 1],
      ] as const) {
        const feeds: Record<string, ort.Tensor> = {
          x: randomFloat32Tensor([1, seq, D], seq + past),
          past_key: randomFloat32Tensor([1, N, past, H], 40 + past),
          past_value: randomFloat32Tensor([1, N, past, H], 80 + past),
        };
        expect(
          maxOutputDiff(await a.run(feeds), await b.run(feeds)),
          `past ${past} seq ${seq}`,
        ).toBeLessThanOrEqual(1e-4);
      }
    },
  );
});
