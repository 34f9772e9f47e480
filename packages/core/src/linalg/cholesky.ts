/** Dense float64 linear algebra on row-major square matrices: Cholesky factors and triangular inverses. */

/**
 * Lower Cholesky factor of the symmetric positive-definite `a` (n × n), in a new array;
 * undefined when `a` is not positive definite.
 */
export function cholesky(a: Float64Array, n: number): Float64Array | undefined {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    let s = a[rj + j] as number;
    for (let k = 0; k < j; k++) s -= (l[rj + k] as number) ** 2;
    if (!(s > 0)) return undefined;
    const d = Math.sqrt(s);
    l[rj + j] = d;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let t = a[ri + j] as number;
      for (let k = 0; k < j; k++) t -= (l[ri + k] as number) * (l[rj + k] as number);
      l[ri + j] = t / d;
    }
  }
  return l;
}

/** Inverse of a lower-triangular matrix, row by row (each row an axpy of the rows above). */
export function invertLower(l: Float64Array, n: number): Float64Array {
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let k = 0; k < i; k++) {
      const f = l[ri + k] as number;
      if (f === 0) continue;
      const rk = k * n;
      for (let j = 0; j <= k; j++) m[ri + j] = (m[ri + j] as number) - f * (m[rk + j] as number);
    }
    m[ri + i] = (m[ri + i] as number) + 1;
    const inv = 1 / (l[ri + i] as number);
    for (let j = 0; j <= i; j++) m[ri + j] = (m[ri + j] as number) * inv;
  }
  return m;
}

/**
 * The upper Cholesky factor U of H⁻¹ (H⁻¹ = UᵀU) that GPTQ reads, without forming H⁻¹:
 * with J the reversal permutation, JHJ = L'L'ᵀ gives H = RRᵀ for the upper R = JL'J, so
 * H⁻¹ = R⁻ᵀR⁻¹ and U = R⁻¹ = J L'⁻¹ J. One Cholesky and one triangular inverse.
 */
export function upperCholeskyOfInverse(h: Float64Array, n: number): Float64Array | undefined {
  const reversed = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) reversed[i * n + j] = h[(n - 1 - i) * n + (n - 1 - j)] as number;
  const l = cholesky(reversed, n);
  if (!l) return undefined;
  const m = invertLower(l, n);
  const u = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = i; j < n; j++) u[i * n + j] = m[(n - 1 - i) * n + (n - 1 - j)] as number;
  return u;
}

/**
 * x with LLᵀx = b, for the lower Cholesky factor `l` (n × n) of a positive-definite matrix: a
 * forward then a backward substitution, never forming the inverse. `b` is not changed.
 */
export function solveCholesky(l: Float64Array, n: number, b: ArrayLike<number>): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i] as number;
    for (let k = 0; k < i; k++) s -= (l[i * n + k] as number) * (y[k] as number);
    y[i] = s / (l[i * n + i] as number);
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i] as number;
    for (let k = i + 1; k < n; k++) s -= (l[k * n + i] as number) * (y[k] as number);
    y[i] = s / (l[i * n + i] as number);
  }
  return y;
}
