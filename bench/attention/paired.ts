/**
 * Paired timing statistics for two contenders run alternately in one process: each pair's ratio
 * (contender / reference) cancels the load the machine had during that pair, so their median
 * tells a small difference that the two separate distributions (each spread over tens of percent
 * on this VM) cannot.
 */

export interface PairedRatio {
  /** Median of the per-pair ratios. */
  readonly median: number;
  /** Distribution-free 95 % confidence interval of that median (order statistics, binomial). */
  readonly low: number;
  readonly high: number;
  readonly pairs: number;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * The median of `contender[i] / reference[i]` and its 95 % interval: the k-th smallest and k-th
 * largest ratio, k from the normal approximation of Binomial(n, ½) (exact enough from n ≈ 20).
 */
export function pairedRatio(
  contender: readonly number[],
  reference: readonly number[],
): PairedRatio {
  if (contender.length !== reference.length || contender.length < 6)
    throw new Error(
      `paired ratios need two equal series of at least 6 runs (got ${contender.length}, ${reference.length})`,
    );
  const ratios = contender.map((c, i) => c / reference[i]!).sort((a, b) => a - b);
  const n = ratios.length;
  const k = Math.max(0, Math.floor(n / 2 - (1.96 * Math.sqrt(n)) / 2));
  return { median: median(ratios), low: ratios[k]!, high: ratios[n - 1 - k]!, pairs: n };
}

export function formatPaired(r: PairedRatio): string {
  return `${r.median.toFixed(2)} (95 % CI ${r.low.toFixed(2)}–${r.high.toFixed(2)}, ${r.pairs} pairs)`;
}
