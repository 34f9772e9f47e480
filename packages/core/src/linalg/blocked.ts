import { cholesky, invertLower } from "./cholesky.js";
import type { MatrixProducts } from "./products.js";

/** Below this size a factor is computed by the plain loops: the products would not pay for their calls. */
export const BLOCKED_BASE = 192;

/**
 * L⁻¹ for the lower Cholesky factor L of the symmetric positive-definite `a` (n × n), by
 * recursive halving with the large products on `products`: with A = [[A₁₁, ·], [A₂₁, A₂₂]],
 * M₁₁ = L₁₁⁻¹ (recursion), L₂₁ = A₂₁M₁₁ᵀ, S = A₂₂ − L₂₁L₂₁ᵀ, M₂₂ = chol(S)⁻¹ (recursion),
 * M₂₁ = −M₂₂(L₂₁M₁₁). Four products of half size per level, 2n³/3 multiply-adds in all (twice
 * the plain loops' count, all of it in DGEMM); L itself is never formed. Undefined when `a` is
 * not positive definite. Only `a`'s lower triangle is read.
 */
export async function inverseCholeskyFactor(
  a: Float64Array,
  n: number,
  products: MatrixProducts,
  base = BLOCKED_BASE,
): Promise<Float64Array | undefined> {
  if (n <= base) {
    const l = cholesky(a, n);
    return l && invertLower(l, n);
  }
  const n1 = Math.floor(n / 2);
  const n2 = n - n1;
  const m11 = await inverseCholeskyFactor(block(a, n, 0, 0, n1, n1), n1, products, base);
  if (!m11) return undefined;
  const a21 = block(a, n, n1, 0, n2, n1);
  const l21 = await products.product({
    a: a21,
    aDims: [n2, n1],
    b: m11,
    bDims: [n1, n1],
    transB: true,
  });
  const s = await products.product({
    a: l21,
    aDims: [n2, n1],
    b: l21,
    bDims: [n2, n1],
    transB: true,
    alpha: -1,
    c: block(a, n, n1, n1, n2, n2),
  });
  const m22 = await inverseCholeskyFactor(s, n2, products, base);
  if (!m22) return undefined;
  const t = await products.product({ a: l21, aDims: [n2, n1], b: m11, bDims: [n1, n1] });
  const m21 = await products.product({ a: m22, aDims: [n2, n2], b: t, bDims: [n2, n1], alpha: -1 });
  const m = new Float64Array(n * n);
  for (let i = 0; i < n1; i++) m.set(m11.subarray(i * n1, i * n1 + i + 1), i * n);
  for (let i = 0; i < n2; i++) {
    m.set(m21.subarray(i * n1, (i + 1) * n1), (n1 + i) * n);
    m.set(m22.subarray(i * n2, i * n2 + i + 1), (n1 + i) * n + n1);
  }
  return m;
}

/**
 * `upperCholeskyOfInverse` with the factor's large products on `products`: U (upper, UᵀU = H⁻¹)
 * as J·L'⁻¹·J for the Cholesky factor L' of the reversed JHJ. Equal to the plain version up to
 * float64 rounding (the sums are ordered differently).
 */
export async function upperCholeskyOfInverseBlocked(
  h: Float64Array,
  n: number,
  products: MatrixProducts,
  base = BLOCKED_BASE,
): Promise<Float64Array | undefined> {
  const reversed = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) reversed[i * n + j] = h[(n - 1 - i) * n + (n - 1 - j)] as number;
  const m = await inverseCholeskyFactor(reversed, n, products, base);
  if (!m) return undefined;
  const u = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = i; j < n; j++) u[i * n + j] = m[(n - 1 - i) * n + (n - 1 - j)] as number;
  return u;
}

/** A copy of rows r0…r0+rows−1, columns c0…c0+columns−1 of the row-major n-wide `a`. */
function block(
  a: Float64Array,
  n: number,
  r0: number,
  c0: number,
  rows: number,
  columns: number,
): Float64Array {
  const out = new Float64Array(rows * columns);
  for (let i = 0; i < rows; i++) {
    const from = (r0 + i) * n + c0;
    out.set(a.subarray(from, from + columns), i * columns);
  }
  return out;
}
