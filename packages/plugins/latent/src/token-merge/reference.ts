/**
 * ToMe's bipartite soft matching in plain TypeScript: the numbers the graph that
 * `latent/token-merge` inserts must produce (tests compare the two on ONNX Runtime).
 */

/** Tokens [batch, n, width], row-major. */
export interface Tokens {
  readonly values: Float32Array;
  readonly batch: number;
  readonly n: number;
  readonly width: number;
}

export interface Merged {
  /** [batch, n − r, width]: the kept sources in similarity order, then the destinations. */
  readonly tokens: Tokens;
  /** [batch, n]: the row of `tokens` each original position was merged into. */
  readonly rows: Int32Array;
  /** Tokens merged away per batch row. */
  readonly r: number;
}

/** Merges `hidden` by the cosine similarity of `metric` (same batch and n). */
export function mergeReference(
  hidden: Tokens,
  metric: Tokens,
  ratio: number,
  stride: number,
): Merged {
  const { batch, n, width } = hidden;
  const dst = Array.from({ length: Math.ceil(n / stride) }, (_, i) => i * stride);
  const src = Array.from({ length: n }, (_, i) => i).filter((i) => i % stride !== 0);
  const r = Math.min(Math.floor(n * Math.fround(ratio)), src.length);
  const keep = src.length - r;
  const out = new Float32Array(batch * (n - r) * width);
  const rows = new Int32Array(batch * n);
  for (let b = 0; b < batch; b++) {
    const unit = (i: number) => {
      const row = metric.values.subarray(
        (b * n + i) * metric.width,
        (b * n + i + 1) * metric.width,
      );
      const norm = Math.hypot(...row);
      return Array.from(row, (v) => v / norm);
    };
    const dstUnits = dst.map(unit);
    const best = src.map((s) => {
      const u = unit(s);
      let score = Number.NEGATIVE_INFINITY;
      let at = 0;
      dstUnits.forEach((v, j) => {
        let dot = 0;
        for (let k = 0; k < u.length; k++) dot += (u[k] ?? 0) * (v[k] ?? 0);
        if (dot > score) [score, at] = [dot, j];
      });
      return { score, at };
    });
    // descending similarity, the lower source first on ties (ONNX TopK)
    const order = src
      .map((_, i) => i)
      .sort((x, y) => (best[y]?.score ?? 0) - (best[x]?.score ?? 0) || x - y);
    const row = (i: number) => hidden.values.subarray((b * n + i) * width, (b * n + i + 1) * width);
    const base = b * (n - r) * width;
    order.slice(r).forEach((i, t) => {
      out.set(row(src[i] as number), base + t * width);
      rows[b * n + (src[i] as number)] = t;
    });
    const sums = dst.map((p) => Float64Array.from(row(p)));
    const counts = dst.map(() => 1);
    for (const i of order.slice(0, r)) {
      const j = best[i]?.at ?? 0;
      const values = row(src[i] as number);
      const sum = sums[j] as Float64Array;
      for (let k = 0; k < width; k++) sum[k] = (sum[k] ?? 0) + (values[k] ?? 0);
      counts[j] = (counts[j] ?? 0) + 1;
      rows[b * n + (src[i] as number)] = keep + j;
    }
    dst.forEach((p, j) => {
      const sum = sums[j] as Float64Array;
      for (let k = 0; k < width; k++)
        out[base + (keep + j) * width + k] = (sum[k] ?? 0) / (counts[j] ?? 1);
      rows[b * n + p] = keep + j;
    });
  }
  return { tokens: { values: out, batch, n: n - r, width }, rows, r };
}

/** Every original position takes the output row it was merged into: [batch, n, width]. */
export function unmergeReference(output: Tokens, rows: Int32Array, n: number): Tokens {
  const { batch, width } = output;
  const values = new Float32Array(batch * n * width);
  for (let b = 0; b < batch; b++)
    for (let i = 0; i < n; i++) {
      const from = (b * output.n + (rows[b * n + i] ?? 0)) * width;
      values.set(output.values.subarray(from, from + width), (b * n + i) * width);
    }
  return { values, batch, n, width };
}
