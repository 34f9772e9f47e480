/** Summary statistics of repeated timings (milliseconds), as the latency metric reports them. */
export interface TimingSummary {
  readonly runs: number;
  readonly mean: number;
  readonly min: number;
  readonly max: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  /** Sample standard deviation (n - 1). */
  readonly stddev: number;
  /** stddev / mean: how noisy the machine was (0.02 = 2 %). */
  readonly cv: number;
}

/**
 * The q-quantile (0..1) of sorted values, linearly interpolated between the two nearest ranks
 * (numpy's default "linear" method), so p50 of [1, 2, 3, 4] is 2.5.
 */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  const a = sorted[lower]!;
  const b = sorted[upper]!;
  return a + (b - a) * (position - lower);
}

export function summarizeTimings(samples: readonly number[]): TimingSummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  const mean = n === 0 ? Number.NaN : sorted.reduce((sum, x) => sum + x, 0) / n;
  const variance = n < 2 ? 0 : sorted.reduce((sum, x) => sum + (x - mean) ** 2, 0) / (n - 1);
  const stddev = Math.sqrt(variance);
  return {
    runs: n,
    mean,
    min: sorted[0] ?? Number.NaN,
    max: sorted[n - 1] ?? Number.NaN,
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    stddev,
    cv: mean > 0 ? stddev / mean : 0,
  };
}
