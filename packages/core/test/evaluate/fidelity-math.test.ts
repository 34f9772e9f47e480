import { describe, expect, it } from "vitest";
import {
  cosineSimilarity,
  logitsAgreement,
  maxAbsError,
  psnr,
  relativeL2,
  topIndices,
} from "../../src/evaluate/fidelity-math.js";

describe("elementwise fidelity", () => {
  it("relative L2, cosine and max abs error on known arrays", () => {
    const ref = [3, 4];
    const cand = [3, 5];
    expect(relativeL2(ref, cand)).toBeCloseTo(1 / 5);
    expect(cosineSimilarity(ref, cand)).toBeCloseTo((9 + 20) / (5 * Math.sqrt(34)));
    expect(maxAbsError(ref, cand)).toBe(1);
    expect(relativeL2(ref, ref)).toBe(0);
    expect(cosineSimilarity([1, 0], [0, 1])).toBe(0);
    expect(cosineSimilarity([0, 0], [0, 0])).toBe(1);
    expect(relativeL2([0, 0], [0, 1])).toBe(Number.POSITIVE_INFINITY);
    expect(maxAbsError([1, 2], [1, Number.NaN])).toBeNaN();
    expect(() => relativeL2([1], [1, 2])).toThrow(/1 values/);
  });

  it("PSNR uses the reference's range as the peak", () => {
    // range 4 - 0 = 4, errors (0, 0, 0, 1) → mse 0.25 → 10·log10(16 / 0.25) = 10·log10(64).
    expect(psnr([0, 1, 2, 4], [0, 1, 2, 5])).toBeCloseTo(10 * Math.log10(64));
    expect(psnr([0, 1], [0, 1])).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("logits agreement", () => {
  it("KL divergence of two softmaxes, hand-computed", () => {
    // Row 1: p = softmax([0, ln 3]) = (1/4, 3/4); q = softmax([0, 0]) = (1/2, 1/2).
    // KL = 1/4·ln(1/2) + 3/4·ln(3/2). Row 2 identical → 0.
    const ref = [0, Math.log(3), 5, 1];
    const cand = [0, 0, 5, 1];
    const expected = (0.25 * Math.log(0.5) + 0.75 * Math.log(1.5)) / 2;
    const a = logitsAgreement(ref, cand, 2, 5);
    expect(a.kl).toBeCloseTo(expected, 12);
    expect(a.positions).toBe(2);
    // Row 1: ref picks 1, cand ties and picks 0 (lower index); row 2 agrees.
    expect(a.top1).toBe(0.5);
    // k is capped at the vocabulary: top-2 of 2 always overlap fully.
    expect(a.topK).toBe(1);
  });

  it("top-k overlap counts shared indices", () => {
    const ref = [9, 8, 7, 6, 5, 4, 3];
    const cand = [9, 8, 0, 0, 5, 4, 3];
    // top-3: ref {0,1,2}, cand {0,1,4} → 2/3; top-1 agrees.
    const a = logitsAgreement(ref, cand, 7, 3);
    expect(a.topK).toBeCloseTo(2 / 3);
    expect(a.top1).toBe(1);
    expect(a.kl).toBeGreaterThan(0);
  });

  it("is exact for equal logits and stable for large ones", () => {
    const big = [1000, 1001, 999, -1000];
    const a = logitsAgreement(big, big, 4);
    expect(a).toEqual({ kl: 0, top1: 1, topK: 1, positions: 1 });
    expect(() => logitsAgreement([1, 2, 3], [1, 2, 3], 2)).toThrow(/rows of 2/);
  });

  it("topIndices orders largest first, ties by index", () => {
    expect(topIndices([1, 5, 3, 5, 2], 3)).toEqual([1, 3, 2]);
    expect(topIndices([1, 2], 5)).toEqual([1, 0]);
  });
});
