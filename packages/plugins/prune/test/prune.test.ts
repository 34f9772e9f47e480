import {
  createBuilder,
  createCpuSessions,
  DataType,
  type Model,
  runPassStandalone,
  singleModelBundle,
  Tensor,
} from "@lathe/core";
import { buildZooModel, zooModels } from "@lathe/plugin-zoo";
import { describe, expect, it } from "vitest";
import { nmPass, unstructuredPass } from "../src/index.js";

const sessions = createCpuSessions();
const K = 8;
const N = 4;
// Weight [K, N]: distinct magnitudes so the order is unambiguous.
const W = Float32Array.from({ length: K * N }, (_, i) => ((i * 7) % 32) - 15.5);

function matmulModel(): Model {
  const b = createBuilder({ opset: 17 });
  const x = b.input("x", DataType.FLOAT, ["batch", K]);
  const w = b.constant(W, [K, N], DataType.FLOAT, "w");
  b.output(b.MatMul(x, w), "y");
  return b.build();
}

function weightOf(model: Model, name = "w"): Float32Array {
  return (model.graph.initializers.get(name)!.constValue as Tensor).toArray() as Float32Array;
}

async function runY(model: Model, x: Float32Array, rows: number): Promise<Float32Array> {
  const [out] = await sessions.run(model, [{ x: Tensor.fromArray(DataType.FLOAT, [rows, K], x) }]);
  return out!.y!.toArray() as Float32Array;
}

function matmul(x: Float32Array, w: Float32Array, rows: number): Float32Array {
  const y = new Float32Array(rows * N);
  for (let r = 0; r < rows; r++)
    for (let n = 0; n < N; n++)
      for (let k = 0; k < K; k++) y[r * N + n] = y[r * N + n]! + x[r * K + k]! * w[k * N + n]!;
  return y;
}

describe("prune/unstructured", () => {
  it("magnitude zeroes the smallest |W| of the layer; ORT runs the pruned weight", async () => {
    const run = await runPassStandalone(unstructuredPass, singleModelBundle(matmulModel()), {
      options: { sparsity: 0.5, minElements: 0 },
    });
    const model = run.result.bundle.components.get("model")!;
    const pruned = weightOf(model);
    const threshold = [...W].map(Math.abs).sort((a, b) => a - b)[(K * N) / 2 - 1]!;
    expect([...pruned]).toEqual([...W].map((w) => (Math.abs(w) <= threshold ? 0 : w)));
    expect(run.result.statistics!.sparsity).toBe(0.5);
    const x = Float32Array.from({ length: 3 * K }, (_, i) => Math.sin(i));
    const y = await runY(model, x, 3);
    const expected = matmul(x, pruned, 3);
    for (let i = 0; i < y.length; i++) expect(y[i]).toBeCloseTo(expected[i]!, 4);
  });

  it("wanda weighs |W| by the input channel's activation norm, per output", async () => {
    // Channel k's activation is scaled by 10^(k mod 2): large weights on quiet channels go first.
    const records = Array.from({ length: 4 }, (_, r) => ({
      x: Tensor.fromArray(
        DataType.FLOAT,
        [2, K],
        Float32Array.from({ length: 2 * K }, (_, i) => (1 + ((i + r) % 3)) * (i % 2 ? 10 : 1)),
      ),
    }));
    const run = await runPassStandalone(unstructuredPass, singleModelBundle(matmulModel()), {
      options: { sparsity: 0.5, minElements: 0, criterion: "wanda", data: "calibration" },
      data: { calibration: records },
    });
    const pruned = weightOf(run.result.bundle.components.get("model")!);
    const norms = Array.from({ length: K }, (_, k) =>
      Math.sqrt(
        records.reduce(
          (s, r) =>
            s +
            [0, 1].reduce((t, row) => t + (r.x.toArray() as Float32Array)[row * K + k]! ** 2, 0),
          0,
        ),
      ),
    );
    for (let n = 0; n < N; n++) {
      const column = Array.from({ length: K }, (_, k) => ({
        k,
        score: Math.abs(W[k * N + n]!) * norms[k]!,
      }));
      column.sort((a, b) => a.score - b.score);
      const dropped = new Set(column.slice(0, K / 2).map((c) => c.k));
      for (let k = 0; k < K; k++)
        expect(pruned[k * N + n], `k=${k} n=${n}`).toBe(dropped.has(k) ? 0 : W[k * N + n]);
    }
    const magnitude = weightOf(
      (
        await runPassStandalone(unstructuredPass, singleModelBundle(matmulModel()), {
          options: { sparsity: 0.5, minElements: 0 },
        })
      ).result.bundle.components.get("model")!,
    );
    expect([...pruned]).not.toEqual([...magnitude]);
  });

  it("prunes Gemm (transB) and Conv weights, a weight inside an If branch, shared weights once, and says what it skipped", async () => {
    const b = createBuilder({ opset: 17 });
    const x = b.input("x", DataType.FLOAT, [2, K]);
    const cond = b.input("cond", DataType.BOOL, []);
    const wt = b.constant(Float32Array.from(W), [N, K], DataType.FLOAT, "wt");
    const g = b.Gemm(x, wt, { transB: 1 });
    const sharedW = b.constant(Float32Array.from(W), [K, N], DataType.FLOAT, "shared");
    const m1 = b.MatMul(x, sharedW);
    const m2 = b.MatMul(x, sharedW);
    const branch = createBuilder({ opset: 17 });
    const inner = branch.MatMul(
      x,
      branch.constant(Float32Array.from(W), [K, N], DataType.FLOAT, "inner"),
    );
    branch.output(inner, "inner_out", DataType.FLOAT, [2, N]);
    const other = createBuilder({ opset: 17 });
    other.output(other.Identity(x), "other_out", DataType.FLOAT, [2, K]);
    const chosen = b.If(cond, { then_branch: branch.graph, else_branch: other.graph });
    const small = b.MatMul(
      x,
      b.constant(new Float32Array(K * 2).fill(1), [K, 2], DataType.FLOAT, "small"),
    );
    const computed = b.MatMul(x, b.Transpose(wt));
    const image = b.input("image", DataType.FLOAT, [1, 4, 5, 5]);
    const conv = b.Conv(
      image,
      b.constant(
        Float32Array.from({ length: 8 * 4 * 9 }, (_, i) => Math.sin(i)),
        [8, 4, 3, 3],
        DataType.FLOAT,
        "conv_w",
      ),
    );
    for (const [v, name] of [
      [g, "g"],
      [m1, "m1"],
      [m2, "m2"],
      [chosen, "c"],
      [small, "s"],
      [computed, "t"],
      [conv, "conv"],
    ] as const)
      b.output(v, name);
    const run = await runPassStandalone(unstructuredPass, singleModelBundle(b.build()), {
      options: { sparsity: 0.25, minElements: 20, opTypes: ["MatMul", "Gemm", "Conv"] },
    });
    const stats = run.result.statistics!;
    expect(stats["layers-pruned"]).toBe(4); // Gemm, the shared MatMul once, the If branch's, Conv
    expect(stats["skipped: weight shared with a layer pruned already"]).toBe(1);
    expect(stats["skipped: weight has fewer than minElements (20)"]).toBe(1);
    expect(stats["skipped: weight read through a Transpose (tied weights are not pruned)"]).toBe(1);
    expect(
      Object.keys(stats).some((k) => k.startsWith("sparsity.") && k.includes("then_branch")),
    ).toBe(true);
    const model = run.result.bundle.components.get("model")!;
    const zeros = (name: string) => [...weightOf(model, name)].filter((v) => v === 0).length;
    expect(zeros("wt")).toBe(8);
    expect(zeros("shared")).toBe(8);
    expect(zeros("conv_w")).toBe(72);
  });
});

describe("prune/n-m", () => {
  it("2:4 keeps the two largest of every four consecutive input weights of each output, exactly", async () => {
    const run = await runPassStandalone(nmPass, singleModelBundle(matmulModel()), {
      options: { minElements: 0 },
    });
    const pruned = weightOf(run.result.bundle.components.get("model")!);
    for (let n = 0; n < N; n++) {
      for (let start = 0; start < K; start += 4) {
        const group = [0, 1, 2, 3].map((j) => (start + j) * N + n);
        const kept = group.filter((i) => pruned[i] !== 0);
        expect(kept).toHaveLength(2);
        const largest = [...group].sort((a, b) => Math.abs(W[b]!) - Math.abs(W[a]!)).slice(0, 2);
        expect(kept.sort()).toEqual(largest.sort());
      }
    }
    expect(
      run.logs.some((l) => /changes the model's fidelity, not its speed/.test(l.message)),
    ).toBe(true);
  });
});

describe("on zoo gpt2", () => {
  it("magnitude and wanda at 50 %: the model runs, every MatMul weight is half zeros", async () => {
    for (const criterion of ["magnitude", "wanda"] as const) {
      const bundle = buildZooModel(zooModels, "gpt2", { size: "tiny" }).bundle;
      const run = await runPassStandalone(unstructuredPass, bundle, {
        options: { sparsity: 0.5, criterion, samples: 2 },
        shapes: { input_ids: [1, 16], attention_mask: [1, 16], position_ids: [1, 16] },
      });
      const stats = run.result.statistics!;
      expect(stats["layers-pruned"] as number).toBeGreaterThan(4);
      expect(stats.sparsity as number).toBeCloseTo(0.5, 2);
      const model = run.result.bundle.components.get("model")!;
      const inputs = model.graph.inputs.map((v) => v.name);
      const feeds = Object.fromEntries(
        inputs.map((name) => [
          name,
          Tensor.fromArray(
            DataType.INT64,
            [1, 16],
            Array.from({ length: 16 }, (_, i) =>
              BigInt(name === "input_ids" ? (i * 7) % 50 : name === "position_ids" ? i : 1),
            ),
          ),
        ]),
      );
      const [out] = await sessions.run(model, [feeds]);
      expect((Object.values(out!)[0]!.toArray() as Float32Array).every(Number.isFinite)).toBe(true);
    }
  });
});
