/**
 * Layer-wise reconstruction after removing input channels of a linear layer y = x W + b
 * (W stored [K, N], x of K channels, S the kept ones): the refit W' on S and b' minimise
 * E‖x W + b − x_S W' − b'‖² + λ‖W'‖² over the calibration tokens. With μ = E[x] and the
 * covariance C = E[x xᵀ] − μ μᵀ, the closed form is
 *
 *     W' = (C_SS + λI)⁻¹ C_S,: W        b' = b + μᵀ W − μ_Sᵀ W'
 *
 * (solved with a float64 Cholesky, never an inverse). With W' = W_S instead, b' = b + μ_Rᵀ W_R
 * is FLAP's bias compensation: the removed channels replaced by their mean contribution.
 */
export interface Moments {
  /** Tokens seen. */
  readonly rows: number;
  /** Σ x, length K. */
  readonly sum: Float64Array;
  /** Σ x xᵀ, K × K row-major. */
  readonly moment: Float64Array;
}

export interface Refit {
  /** W' for the kept channels, [S, N] row-major. */
  readonly weight: Float64Array;
  readonly bias: Float64Array;
  /** E‖error‖² / E‖y‖² when the channels are just dropped (W_S, b). */
  readonly errorBefore: number;
  /** The same after the refit. */
  readonly errorAfter: number;
  /** The ridge λ used (relative λ × mean diag C_SS, raised until the Cholesky succeeds). */
  readonly lambda: number;
}

/**
 * The ridge refit of a layer W [K, N] (row-major, float32 as stored) with bias `b` (zeros when
 * the layer has none) keeping channels `keep`, from the input's moments.
 */
export function ridgeRefit(
  moments: Moments,
  weight: Float32Array,
  bias: Float32Array | undefined,
  keep: readonly number[],
  relativeRidge: number,
): Refit {
  const K = moments.sum.length;
  const N = weight.length / K;
  const s = keep.length;
  const rows = Math.max(1, moments.rows);
  const mu = Float64Array.from(moments.sum, (x) => x / rows);
  const M = moments.moment; // divided by rows where used
  const b = Float64Array.from({ length: N }, (_, n) => bias?.[n] ?? 0);

  // MW = (M / rows) W, [K, N]; μᵀW
  const MW = new Float64Array(K * N);
  for (let i = 0; i < K; i++) {
    const out = i * N;
    for (let k = 0; k < K; k++) {
      const m = (M[i * K + k] as number) / rows;
      if (m === 0) continue;
      const w = k * N;
      for (let n = 0; n < N; n++)
        MW[out + n] = (MW[out + n] as number) + m * (weight[w + n] as number);
    }
  }
  const muW = new Float64Array(N);
  for (let k = 0; k < K; k++) {
    const m = mu[k] as number;
    for (let n = 0; n < N; n++) muW[n] = (muW[n] as number) + m * (weight[k * N + n] as number);
  }
  // RHS = C_S,: W = (MW)_S − μ_S (μᵀW)
  const rhs = new Float64Array(s * N);
  keep.forEach((k, i) => {
    for (let n = 0; n < N; n++)
      rhs[i * N + n] = (MW[k * N + n] as number) - (mu[k] as number) * (muW[n] as number);
  });
  // A = C_SS + λI
  const A = new Float64Array(s * s);
  let trace = 0;
  for (let i = 0; i < s; i++) {
    const ki = keep[i] as number;
    for (let j = 0; j < s; j++) {
      const kj = keep[j] as number;
      A[i * s + j] = (M[ki * K + kj] as number) / rows - (mu[ki] as number) * (mu[kj] as number);
    }
    trace += A[i * s + i] as number;
  }
  let lambda = relativeRidge * (trace / Math.max(1, s));
  if (!(lambda > 0)) lambda = 1e-8 * Math.max(1e-12, trace / Math.max(1, s));
  let solved: Float64Array | undefined;
  for (let attempt = 0; attempt < 8 && !solved; attempt++, lambda *= 10) {
    solved = choleskySolve(A, s, lambda, rhs, N);
    if (solved) break;
  }
  if (!solved)
    throw new Error("the kept channels' covariance is not positive definite even with damping");
  const W2 = solved;
  // b' = b + μᵀW − μ_Sᵀ W'
  const bias2 = Float64Array.from(b);
  for (let n = 0; n < N; n++) {
    let muSW = 0;
    for (let i = 0; i < s; i++)
      muSW += (mu[keep[i] as number] as number) * (W2[i * N + n] as number);
    bias2[n] = (bias2[n] as number) + (muW[n] as number) - muSW;
  }

  // errors: E‖x D + δ‖² = tr(Dᵀ M D)/rows + 2 (μᵀ D)·δ + ‖δ‖², D = W − embed(W')
  const E = (D: Float64Array, delta: Float64Array): number => {
    const rowsInUse: number[] = [];
    for (let k = 0; k < K; k++)
      for (let n = 0; n < N; n++)
        if (D[k * N + n] !== 0) {
          rowsInUse.push(k);
          break;
        }
    let quad = 0;
    for (const i of rowsInUse)
      for (const k of rowsInUse) {
        const m = M[i * K + k] as number;
        if (m === 0) continue;
        let dot = 0;
        for (let n = 0; n < N; n++) dot += (D[i * N + n] as number) * (D[k * N + n] as number);
        quad += m * dot;
      }
    quad /= rows;
    let cross = 0;
    let dd = 0;
    for (let n = 0; n < N; n++) {
      let muD = 0;
      for (const k of rowsInUse) muD += (mu[k] as number) * (D[k * N + n] as number);
      cross += muD * (delta[n] as number);
      dd += (delta[n] as number) ** 2;
    }
    return quad + 2 * cross + dd;
  };
  let signal = 0;
  for (let i = 0; i < K * N; i++) signal += (weight[i] as number) * (MW[i] as number);
  for (let n = 0; n < N; n++)
    signal += 2 * (muW[n] as number) * (b[n] as number) + (b[n] as number) ** 2;
  const kept = new Set(keep);
  const dropped = new Float64Array(K * N);
  for (let k = 0; k < K; k++)
    if (!kept.has(k)) for (let n = 0; n < N; n++) dropped[k * N + n] = weight[k * N + n] as number;
  const refitted = Float64Array.from(dropped);
  keep.forEach((k, i) => {
    for (let n = 0; n < N; n++)
      refitted[k * N + n] = (weight[k * N + n] as number) - (W2[i * N + n] as number);
  });
  const deltaAfter = Float64Array.from(b, (x, n) => x - (bias2[n] as number));
  const denominator = signal > 0 ? signal : 1;
  return {
    weight: W2,
    bias: bias2,
    errorBefore: E(dropped, new Float64Array(N)) / denominator,
    errorAfter: E(refitted, deltaAfter) / denominator,
    lambda,
  };
}

/** Solves (A + λI) X = B for X [n, cols] by Cholesky; undefined when not positive definite. */
export function choleskySolve(
  A: Float64Array,
  n: number,
  lambda: number,
  B: Float64Array,
  cols: number,
): Float64Array | undefined {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = (A[i * n + j] as number) + (i === j ? lambda : 0);
      for (let k = 0; k < j; k++) sum -= (L[i * n + k] as number) * (L[j * n + k] as number);
      if (i === j) {
        if (!(sum > 0)) return undefined;
        L[i * n + i] = Math.sqrt(sum);
      } else L[i * n + j] = sum / (L[j * n + j] as number);
    }
  }
  const X = Float64Array.from(B);
  for (let i = 0; i < n; i++) {
    const row = i * cols;
    for (let j = 0; j < i; j++) {
      const l = L[i * n + j] as number;
      if (l === 0) continue;
      const other = j * cols;
      for (let c = 0; c < cols; c++)
        X[row + c] = (X[row + c] as number) - l * (X[other + c] as number);
    }
    const d = L[i * n + i] as number;
    for (let c = 0; c < cols; c++) X[row + c] = (X[row + c] as number) / d;
  }
  for (let i = n - 1; i >= 0; i--) {
    const row = i * cols;
    for (let j = i + 1; j < n; j++) {
      const l = L[j * n + i] as number;
      if (l === 0) continue;
      const other = j * cols;
      for (let c = 0; c < cols; c++)
        X[row + c] = (X[row + c] as number) - l * (X[other + c] as number);
    }
    const d = L[i * n + i] as number;
    for (let c = 0; c < cols; c++) X[row + c] = (X[row + c] as number) / d;
  }
  return X;
}
