/** Running mean and covariance of C-dimensional vectors, in float64. */
export class Moments {
  readonly dim: number;
  count = 0;
  readonly #sum: Float64Array;
  readonly #outer: Float64Array;

  constructor(dim: number) {
    this.dim = dim;
    this.#sum = new Float64Array(dim);
    this.#outer = new Float64Array(dim * dim);
  }

  /** Adds the vectors of a [N, C, H, W] tensor: one per position (channels are the vector). */
  addChannels(values: ArrayLike<number>, dims: readonly number[]): void {
    const [n = 0, c = 0] = dims;
    const plane = dims.slice(2).reduce((a, b) => a * b, 1);
    const v = new Float64Array(c);
    for (let b = 0; b < n; b++) {
      for (let p = 0; p < plane; p++) {
        for (let i = 0; i < c; i++) v[i] = values[(b * c + i) * plane + p] ?? 0;
        this.add(v);
      }
    }
  }

  add(v: ArrayLike<number>): void {
    const d = this.dim;
    this.count++;
    for (let i = 0; i < d; i++) {
      const vi = v[i] ?? 0;
      this.#sum[i] = (this.#sum[i] ?? 0) + vi;
      for (let j = 0; j < d; j++)
        this.#outer[i * d + j] = (this.#outer[i * d + j] ?? 0) + vi * (v[j] ?? 0);
    }
  }

  mean(): Float64Array {
    return this.#sum.map((s) => s / Math.max(this.count, 1));
  }

  /** The uncentered second moment E[v·vᵀ], row-major C×C. */
  secondMoment(): Float64Array {
    return this.#outer.map((s) => s / Math.max(this.count, 1));
  }

  /** The (population) covariance, row-major C×C. */
  covariance(): Float64Array {
    const d = this.dim;
    const mean = this.mean();
    const out = new Float64Array(d * d);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        out[i * d + j] =
          (this.#outer[i * d + j] ?? 0) / Math.max(this.count, 1) - (mean[i] ?? 0) * (mean[j] ?? 0);
      }
    }
    return out;
  }
}

export interface Eigen {
  /** Eigenvalues, largest first. */
  readonly values: Float64Array;
  /** Eigenvectors as columns of a row-major C×C matrix, in the order of `values`. */
  readonly vectors: Float64Array;
}

/**
 * Eigendecomposition of a symmetric matrix by cyclic Jacobi rotations: exact to rounding for
 * the small matrices here (latent channels: 4 to 32).
 */
export function symmetricEigen(matrix: ArrayLike<number>, dim: number): Eigen {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++) v[i * dim + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < dim; p++)
      for (let q = p + 1; q < dim; q++) off += (a[p * dim + q] ?? 0) ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < dim; p++) {
      for (let q = p + 1; q < dim; q++) {
        const apq = a[p * dim + q] ?? 0;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = ((a[q * dim + q] ?? 0) - (a[p * dim + p] ?? 0)) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < dim; k++) {
          const akp = a[k * dim + p] ?? 0;
          const akq = a[k * dim + q] ?? 0;
          a[k * dim + p] = c * akp - s * akq;
          a[k * dim + q] = s * akp + c * akq;
        }
        for (let k = 0; k < dim; k++) {
          const apk = a[p * dim + k] ?? 0;
          const aqk = a[q * dim + k] ?? 0;
          a[p * dim + k] = c * apk - s * aqk;
          a[q * dim + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < dim; k++) {
          const vkp = v[k * dim + p] ?? 0;
          const vkq = v[k * dim + q] ?? 0;
          v[k * dim + p] = c * vkp - s * vkq;
          v[k * dim + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: dim }, (_, i) => i).sort(
    (i, j) => (a[j * dim + j] ?? 0) - (a[i * dim + i] ?? 0),
  );
  const values = Float64Array.from(order, (i) => Math.max(a[i * dim + i] ?? 0, 0));
  const vectors = new Float64Array(dim * dim);
  order.forEach((from, to) => {
    for (let k = 0; k < dim; k++) vectors[k * dim + to] = v[k * dim + from] ?? 0;
  });
  return { values, vectors };
}

/** Cumulative share of the variance kept by the first k components, k = 1 … C. */
export function explainedVariance(values: ArrayLike<number>): number[] {
  const total = Array.from(values).reduce((a, b) => a + b, 0);
  let running = 0;
  return Array.from(values, (v) => {
    running += v;
    return total > 0 ? running / total : 1;
  });
}
