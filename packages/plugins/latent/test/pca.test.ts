import { describe, expect, it } from "vitest";
import { explainedVariance, Moments, symmetricEigen } from "../src/index.js";

describe("PCA statistics", () => {
  it("eigendecomposes a symmetric matrix: A·u = λ·u, orthonormal, largest first", () => {
    const dim = 5;
    const a = new Float64Array(dim * dim);
    for (let i = 0; i < dim; i++)
      for (let j = 0; j <= i; j++)
        a[i * dim + j] = a[j * dim + i] = Math.sin(i * 3 + j * 7) + (i === j ? 3 : 0);
    const { values, vectors } = symmetricEigen(a, dim);
    for (let i = 1; i < dim; i++) expect(values[i]!).toBeLessThanOrEqual(values[i - 1]!);
    for (let c = 0; c < dim; c++) {
      for (let r = 0; r < dim; r++) {
        let av = 0;
        for (let k = 0; k < dim; k++) av += a[r * dim + k]! * vectors[k * dim + c]!;
        expect(av).toBeCloseTo(values[c]! * vectors[r * dim + c]!, 10);
      }
      for (let d = 0; d < dim; d++) {
        let dot = 0;
        for (let k = 0; k < dim; k++) dot += vectors[k * dim + c]! * vectors[k * dim + d]!;
        expect(dot).toBeCloseTo(c === d ? 1 : 0, 10);
      }
    }
  });

  it("mean and covariance of channel vectors at every position; explained variance is cumulative", () => {
    const m = new Moments(2);
    // [N=1, C=2, 2 positions]: vectors (1, 2) and (3, 6)
    m.addChannels([1, 3, 2, 6], [1, 2, 2]);
    expect([...m.mean()]).toEqual([2, 4]);
    expect([...m.covariance()]).toEqual([1, 2, 2, 4]);
    expect(explainedVariance([3, 1, 0])).toEqual([0.75, 1, 1]);
  });
});
