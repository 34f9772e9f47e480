import {
  cholesky,
  collectGrams,
  createBuilder,
  createCpuSessions,
  DataType,
  dampedInverseCholesky,
  dampedInverseCholeskyBlocked,
  inverseCholeskyFactor,
  invertLower,
  layerHessian,
  ortMatrixProducts,
  pinDeadInputs,
  quadraticError,
  SeededRandom,
  solveCholesky,
  Tensor,
  upperCholeskyOfInverse,
  type Value,
} from "@lathe/core";
import { afterAll, describe, expect, it } from "vitest";

const products = ortMatrixProducts({ threads: 1 });
afterAll(() => products.close());

function gaussian(seed: number): () => number {
  const random = new SeededRandom(seed);
  return () => random.normal();
}

/** XᵀX of `rows` correlated rows of n features (+ `ridge` on the diagonal). */
function gram(rows: number, n: number, seed: number, ridge = 0): Float64Array {
  const next = gaussian(seed);
  const mix = Float64Array.from({ length: 4 * n }, next);
  const h = new Float64Array(n * n);
  const x = new Float64Array(n);
  for (let r = 0; r < rows; r++) {
    const z = [next(), next(), next(), next()];
    for (let c = 0; c < n; c++)
      x[c] = 0.1 * next() + z.reduce((s, zf, f) => s + zf * (mix[f * n + c] as number), 0);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++)
        h[i * n + j] = (h[i * n + j] as number) + (x[i] as number) * (x[j] as number);
  }
  for (let i = 0; i < n; i++) h[i * n + i] = (h[i * n + i] as number) + ridge;
  return h;
}

function multiply(a: Float64Array, b: ArrayLike<number>, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++)
      out[i] = (out[i] as number) + (a[i * n + j] as number) * (b[j] as number);
  return out;
}

describe("linalg", () => {
  it("U from upperCholeskyOfInverse is upper triangular with UᵀU = H⁻¹", () => {
    const n = 24;
    const h = gram(200, n, 4, 1e-3);
    const u = upperCholeskyOfInverse(h, n) as Float64Array;
    let worst = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < i; j++) expect(u[i * n + j]).toBe(0);
      // H · (UᵀU) = I
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let a = 0; a < n; a++) {
          let inv = 0;
          for (let b = 0; b <= Math.min(a, j); b++)
            inv += (u[b * n + a] as number) * (u[b * n + j] as number);
          s += (h[i * n + a] as number) * inv;
        }
        worst = Math.max(worst, Math.abs(s - (i === j ? 1 : 0)));
      }
    }
    expect(worst).toBeLessThan(1e-6);
  });

  it("ortMatrixProducts computes α·op(A)·op(B) + C in float64 on ONNX Runtime, every transpose", async () => {
    const next = gaussian(11);
    const [m, k, n] = [7, 5, 3];
    const a = Float64Array.from({ length: m * k }, next);
    const b = Float64Array.from({ length: k * n }, next);
    const c = Float64Array.from({ length: m * n }, next);
    const transpose = (x: Float64Array, rows: number, cols: number) =>
      Float64Array.from(
        { length: rows * cols },
        (_, i) => x[(i % rows) * cols + Math.floor(i / rows)] as number,
      );
    const want = new Float64Array(m * n);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = c[i * n + j] as number;
        for (let t = 0; t < k; t++) s -= (a[i * k + t] as number) * (b[t * n + j] as number);
        want[i * n + j] = s;
      }
    for (const transA of [false, true])
      for (const transB of [false, true]) {
        const got = await products.product({
          a: transA ? transpose(a, m, k) : a,
          aDims: transA ? [k, m] : [m, k],
          transA,
          b: transB ? transpose(b, k, n) : b,
          bDims: transB ? [n, k] : [k, n],
          transB,
          alpha: -1,
          c,
        });
        for (let i = 0; i < m * n; i++) expect(got[i]).toBeCloseTo(want[i] as number, 12);
      }
    await expect(products.product({ a, aDims: [m, k], b, bDims: [n, k] })).rejects.toThrow(
      /inner dimensions 5 and 3/,
    );
  });

  it("the blocked factor on ORT's GEMM equals the plain loops: L⁻¹ and U to float64 rounding", async () => {
    // 301 with a base of 40: uneven halves, three levels of recursion.
    const n = 301;
    const h = gram(400, n, 12, 1e-2);
    const l = cholesky(h, n) as Float64Array;
    const want = invertLower(l, n);
    const got = (await inverseCholeskyFactor(h, n, products, 40)) as Float64Array;
    let worst = 0;
    let scale = 0;
    for (let i = 0; i < n * n; i++) {
      worst = Math.max(worst, Math.abs((got[i] as number) - (want[i] as number)));
      scale = Math.max(scale, Math.abs(want[i] as number));
    }
    expect(worst / scale).toBeLessThan(1e-9);
    const u = dampedInverseCholesky(h, n, 0.01);
    const ub = await dampedInverseCholeskyBlocked(h, n, 0.01, products);
    for (let i = 0; i < n * n; i++) expect(ub[i]).toBeCloseTo(u[i] as number, 9);
    // Not positive definite at any level: undefined, as cholesky says.
    const indefinite = Float64Array.from(h);
    indefinite[(n - 1) * n + n - 1] = -1;
    expect(await inverseCholeskyFactor(indefinite, n, products, 40)).toBeUndefined();
  });

  it("solveCholesky solves LLᵀx = b", () => {
    const n = 16;
    const a = gram(100, n, 7, 1e-2);
    const l = cholesky(a, n) as Float64Array;
    const b = Float64Array.from({ length: n }, gaussian(8));
    const x = solveCholesky(l, n, b);
    const back = multiply(a, x, n);
    for (let i = 0; i < n; i++) expect(back[i]).toBeCloseTo(b[i] as number, 8);
  });

  it("dampedInverseCholesky raises the damping until a singular Hessian factors", () => {
    const n = 12;
    // Rank 4 (four latent factors, no noise on top), and no damping asked: the first tries fail.
    const next = gaussian(3);
    const v = Float64Array.from({ length: 4 * n }, next);
    const h = new Float64Array(n * n);
    for (let f = 0; f < 4; f++)
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++)
          h[i * n + j] =
            (h[i * n + j] as number) + (v[f * n + i] as number) * (v[f * n + j] as number);
    expect(cholesky(h, n)).toBeUndefined();
    const u = dampedInverseCholesky(h, n, 0);
    expect(u.every(Number.isFinite)).toBe(true);
    expect(() => dampedInverseCholesky(new Float64Array(n * n).fill(Number.NaN), n, 0.01)).toThrow(
      /not positive definite/,
    );
  });

  it("pinDeadInputs zeroes the weights of inputs that never fire", () => {
    const k = 3;
    const h = Float64Array.from([2, 0, 1, 0, 0, 0, 1, 0, 3]);
    const w = Float64Array.from([1, 2, 3, 4, 5, 6]); // [2 rows, 3]
    expect(pinDeadInputs(h, k, w, 2)).toBe(1);
    expect([...w]).toEqual([1, 0, 3, 4, 0, 6]);
    expect(h[4]).toBe(1);
  });

  it("collectGrams returns XᵀX of an activation computed on ONNX Runtime, and layerHessian 2XᵀX/n", async () => {
    const b = createBuilder({ opset: 17 });
    const x = b.input("x", DataType.FLOAT, [2, 3, 4]);
    const y = b.Relu(x);
    b.output(b.Neg(y), "out");
    const model = b.build();
    const values = [
      Float32Array.from({ length: 24 }, gaussian(1)),
      Float32Array.from({ length: 24 }, gaussian(2)),
    ];
    const records = values.map((v) => ({ x: Tensor.fromArray(DataType.FLOAT, [2, 3, 4], v) }));
    const grams = await collectGrams(model, new Map<Value, number>([[y, 4]]), {
      sessions: createCpuSessions({ threads: 1 }),
      records,
    });
    const g = grams.get(y);
    expect(g?.rows).toBe(12);
    const want = new Float64Array(16);
    for (const v of values)
      for (let r = 0; r < 6; r++)
        for (let i = 0; i < 4; i++)
          for (let j = 0; j < 4; j++)
            want[i * 4 + j] =
              (want[i * 4 + j] as number) +
              Math.max(0, v[r * 4 + i] as number) * Math.max(0, v[r * 4 + j] as number);
    for (let i = 0; i < 16; i++) expect(g?.xtx[i]).toBeCloseTo(want[i] as number, 5);
    // The probe outputs are gone again.
    expect(model.graph.outputs.map((o) => o.name)).toEqual(["out"]);
    const h = layerHessian([g!, g!]) as Float64Array; // the same activation twice counts once
    for (let i = 0; i < 16; i++) expect(h[i]).toBeCloseTo((2 * (want[i] as number)) / 12, 5);
    // ΔᵀHΔ/2 summed over rows is the mean squared output error.
    const weight = [1, 0, 0, 0, 0, 1, 0, 0];
    const approx = [0, 0, 0, 0, 0, 1, 0, 0];
    let direct = 0;
    for (const v of values)
      for (let r = 0; r < 6; r++) direct += Math.max(0, v[r * 4] as number) ** 2;
    expect(quadraticError(weight, approx, 2, 4, h) / 2).toBeCloseTo(direct / 12, 5);
  });
});
