import { type Model, runPassStandalone, SeededRandom, singleModelBundle } from "@lathe/core";
import { gpt2 } from "@lathe/plugin-zoo";
import { describe, expect, it } from "vitest";
import { ridgeRefit, structuredPass } from "../src/index.js";
import { clone, feedsFor, run } from "./structured-helpers.js";

/** A seeded stream of normals from core's generator. */
function normals(count: number, seed: number): Float64Array {
  const random = new SeededRandom(seed);
  return Float64Array.from({ length: count }, () => random.normal());
}

/** Solves A x = b (n × n, dense) by Gaussian elimination with partial pivoting. */
function solve(A: number[][], b: number[][]): number[][] {
  const n = A.length;
  const M = A.map((row, i) => [...row, ...(b[i] as number[])]);
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[pivot]![c]!)) pivot = r;
    [M[c], M[pivot]] = [M[pivot]!, M[c]!];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = M[r]![c]! / M[c]![c]!;
      for (let k = c; k < M[r]!.length; k++) M[r]![k]! -= f * M[c]![k]!;
    }
  }
  return M.map((row, i) => row.slice(n).map((v) => v / row[i]!));
}

describe("reconstruction's closed form", () => {
  // T tokens of K correlated channels; the layer y = x W + b has N outputs; S keeps 5 of 8
  const T = 200;
  const K = 8;
  const N = 3;
  const z = normals(T * K, 7);
  const X = Float64Array.from({ length: T * K }, (_, i) => {
    const k = i % K;
    // channel k mixes its own noise with channel 0's, and has its own mean: the removed channels
    // are partly predictable from the kept ones
    return z[i]! + 0.8 * z[i - k]! + 0.3 * k;
  });
  const W = Float32Array.from(normals(K * N, 11), (v) => Math.fround(v));
  const b = Float32Array.from([0.5, -1, 0.25]);
  const keep = [0, 2, 3, 5, 7];
  const moments = {
    rows: T,
    sum: new Float64Array(K),
    moment: new Float64Array(K * K),
  };
  for (let t = 0; t < T; t++)
    for (let i = 0; i < K; i++) {
      moments.sum[i]! += X[t * K + i]!;
      for (let j = 0; j < K; j++) moments.moment[i * K + j]! += X[t * K + i]! * X[t * K + j]!;
    }
  const Y = (t: number, n: number) => {
    let y = b[n]!;
    for (let k = 0; k < K; k++) y += X[t * K + k]! * W[k * N + n]!;
    return y;
  };

  it.each([0, 0.01, 0.5])(
    "ridge %s: W' and b' equal the direct least-squares solve on the tokens",
    (ridge) => {
      const refit = ridgeRefit(moments, W, b, keep, ridge);
      // direct: minimise (1/T) Σ‖y − x_S W' − b'‖² + λ‖W'‖² over [W'; b'] from the tokens themselves
      const s = keep.length;
      const design = (t: number) => [...keep.map((k) => X[t * K + k]!), 1];
      const A = Array.from({ length: s + 1 }, () => new Array<number>(s + 1).fill(0));
      const B = Array.from({ length: s + 1 }, () => new Array<number>(N).fill(0));
      for (let t = 0; t < T; t++) {
        const d = design(t);
        for (let i = 0; i <= s; i++) {
          for (let j = 0; j <= s; j++) A[i]![j]! += (d[i]! * d[j]!) / T;
          for (let n = 0; n < N; n++) B[i]![n]! += (d[i]! * Y(t, n)) / T;
        }
      }
      for (let i = 0; i < s; i++) A[i]![i]! += refit.lambda;
      const direct = solve(A, B);
      for (let i = 0; i < s; i++)
        for (let n = 0; n < N; n++) expect(refit.weight[i * N + n]).toBeCloseTo(direct[i]![n]!, 8);
      for (let n = 0; n < N; n++) expect(refit.bias[n]).toBeCloseTo(direct[s]![n]!, 8);
      // the reported errors are the direct residuals over the signal
      let signal = 0;
      let before = 0;
      let after = 0;
      for (let t = 0; t < T; t++)
        for (let n = 0; n < N; n++) {
          const y = Y(t, n);
          let dropped = b[n]!;
          let fitted = refit.bias[n]!;
          keep.forEach((k, i) => {
            dropped += X[t * K + k]! * W[k * N + n]!;
            fitted += X[t * K + k]! * refit.weight[i * N + n]!;
          });
          signal += y * y;
          before += (y - dropped) ** 2;
          after += (y - fitted) ** 2;
        }
      expect(refit.errorBefore).toBeCloseTo(before / signal, 10);
      expect(refit.errorAfter).toBeCloseTo(after / signal, 10);
      expect(refit.errorAfter).toBeLessThan(refit.errorBefore);
    },
  );

  it("without ridge is W_S + W_R C_RS C_SS⁻¹ (the removed channels predicted from the kept)", () => {
    const refit = ridgeRefit(moments, W, b, keep, 0);
    // the tiny default damping aside, the refit of a kept channel's weights is its own weight
    // plus what the removed channels contribute through their regression on the kept ones
    const removed = [1, 4, 6];
    const mean = (i: number) => moments.sum[i]! / T;
    const C = (i: number, j: number) => moments.moment[i * K + j]! / T - mean(i) * mean(j);
    const Css = keep.map((i) => keep.map((j) => C(i, j)));
    const Csr = keep.map((i) => removed.map((r) => C(i, r)));
    const beta = solve(Css, Csr); // [S, R]: regression of removed channels on kept ones
    keep.forEach((k, i) => {
      for (let n = 0; n < N; n++) {
        let expected = W[k * N + n]!;
        removed.forEach((r, j) => {
          expected += beta[i]![j]! * W[r * N + n]!;
        });
        expect(refit.weight[i * N + n]).toBeCloseTo(expected, 5);
      }
    });
  });
});

describe("prune/structured reconstruct: true", () => {
  it("reports each refitted layer's error before and after, and brings the logits closer to the original", async () => {
    const original = gpt2.build(gpt2.presets.tiny, { seed: 3 }).components.get("model") as Model;
    const options = { heads: 0.5, channels: 0.5, multipleOf: 8, data: "calibration", samples: 8 };
    const calibration = Array.from({ length: 8 }, (_, i) => feedsFor(original, i));
    const pruned = async (reconstruct: boolean) =>
      (
        await runPassStandalone(structuredPass, singleModelBundle(clone(original)), {
          options: { ...options, reconstruct },
          data: { calibration },
        })
      ).result;
    const plain = await pruned(false);
    const refitted = await pruned(true);
    const stats = refitted.statistics ?? {};
    const layers = Object.keys(stats).filter((k) => k.startsWith("error-before."));
    expect(layers.length).toBe(4); // attn c_proj and mlp c_proj of both blocks
    for (const key of layers) {
      const after = stats[key.replace("before", "after")] as number;
      expect(after).toBeLessThan(stats[key] as number);
    }
    // held-out inputs (the calibration records are seeds 0–7)
    const feeds = feedsFor(original, 42);
    const reference = (await run(original, feeds)).logits!.toArray() as Float32Array;
    const relL2 = async (result: typeof plain) => {
      const model = result.bundle.components.get("model") as Model;
      const logits = (await run(model, feeds)).logits!.toArray() as Float32Array;
      let num = 0;
      let den = 0;
      for (let i = 0; i < logits.length; i++) {
        num += (logits[i]! - reference[i]!) ** 2;
        den += reference[i]! ** 2;
      }
      return Math.sqrt(num / den);
    };
    const [without, withRefit] = [await relL2(plain), await relL2(refitted)];
    expect(withRefit).toBeLessThan(without);
  });
});
