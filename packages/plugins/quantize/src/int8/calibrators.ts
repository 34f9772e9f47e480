/**
 * Activation range calibrators: `minmax`, `percentile` and `entropy` (KL divergence, the
 * TensorRT method). Histogram calibrators bin |x| over [0, max|x|] seen in a first pass, so a
 * tensor's histogram is built batch by batch without keeping its values.
 */

export type CalibratorKind = "minmax" | "percentile" | "entropy";

export interface TensorRange {
  min: number;
  max: number;
}

/** Running min/max of a tensor over every batch. */
export class MinMax implements TensorRange {
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;

  add(min: number, max: number): void {
    if (min < this.min) this.min = min;
    if (max > this.max) this.max = max;
  }

  addValues(values: ArrayLike<number>): void {
    let lo = this.min;
    let hi = this.max;
    for (let i = 0; i < values.length; i++) {
      const x = values[i]!;
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
    this.min = lo;
    this.max = hi;
  }
}

/** A histogram of |x| with `bins` equal bins over [0, limit]. */
export class AbsHistogram {
  readonly counts: Float64Array;
  readonly width: number;

  constructor(
    readonly limit: number,
    readonly bins = 2048,
  ) {
    this.counts = new Float64Array(bins);
    this.width = limit > 0 ? limit / bins : 1;
  }

  add(values: ArrayLike<number>): void {
    const { counts, width, bins } = this;
    for (let i = 0; i < values.length; i++) {
      const a = Math.abs(values[i]!);
      counts[Math.min(bins - 1, Math.floor(a / width))]! += 1;
    }
  }

  get total(): number {
    let n = 0;
    for (const c of this.counts) n += c;
    return n;
  }
}

/** The smallest threshold below which `percentile` % of |x| lies (an upper bin edge). */
export function percentileThreshold(h: AbsHistogram, percentile: number): number {
  const target = (h.total * percentile) / 100;
  let cumulative = 0;
  for (let i = 0; i < h.bins; i++) {
    cumulative += h.counts[i]!;
    if (cumulative >= target) return (i + 1) * h.width;
  }
  return h.limit;
}

/**
 * TensorRT's entropy calibration: for each candidate cut i (≥ `quantizedBins` bins), the clipped
 * distribution P (outliers folded into its last bin) is compared with Q, P's first i bins merged
 * into `quantizedBins` levels and spread back over their non-empty bins; the cut with the
 * smallest KL(P‖Q) gives the threshold (its upper edge). Prefix sums make each cut cost one
 * step per level instead of one per bin.
 */
export function entropyThreshold(h: AbsHistogram, quantizedBins = 128): number {
  const { counts, bins } = h;
  if (bins <= quantizedBins) return h.limit;
  // Prefix sums over bins: counts, non-empty bins, and c·ln c.
  const sums = new Float64Array(bins + 1);
  const nonEmpty = new Float64Array(bins + 1);
  const cLogC = new Float64Array(bins + 1);
  for (let i = 0; i < bins; i++) {
    const c = counts[i]!;
    sums[i + 1] = sums[i]! + c;
    nonEmpty[i + 1] = nonEmpty[i]! + (c > 0 ? 1 : 0);
    cLogC[i + 1] = cLogC[i]! + (c > 0 ? c * Math.log(c) : 0);
  }
  const total = sums[bins]!;
  if (total === 0) return h.limit;
  const logTotal = Math.log(total);
  let bestKl = Number.POSITIVE_INFINITY;
  let bestCut = bins;
  for (let cut = quantizedBins; cut <= bins; cut++) {
    const qTotal = sums[cut]!; // Q spreads each level's mass over its own bins: same total
    if (qTotal === 0) continue;
    const perLevel = cut / quantizedBins;
    let kl = 0;
    let lastShare = 0;
    for (let level = 0; level < quantizedBins; level++) {
      const start = Math.floor(level * perLevel);
      const end = level === quantizedBins - 1 ? cut : Math.floor((level + 1) * perLevel);
      const mass = sums[end]! - sums[start]!;
      const filled = nonEmpty[end]! - nonEmpty[start]!;
      if (filled === 0) continue;
      const q = mass / filled / qTotal;
      if (level === quantizedBins - 1) lastShare = q;
      // Σ over the level's non-empty bins of p·ln(p/q), with p = c / total.
      kl += (cLogC[end]! - cLogC[start]! - mass * logTotal - mass * Math.log(q)) / total;
    }
    // The outliers beyond the cut land in its last bin.
    const outliers = total - sums[cut]!;
    if (outliers > 0) {
      const c = counts[cut - 1]!;
      const p = (c + outliers) / total;
      if (c > 0) {
        const before = c / total;
        kl += p * Math.log(p / lastShare) - before * Math.log(before / lastShare);
      } else kl += p * 30; // mass where Q has none
    }
    if (kl < bestKl) {
      bestKl = kl;
      bestCut = cut;
    }
  }
  return bestCut * h.width;
}

/** The range a calibrator picks: min/max, or the threshold clipped to what was observed. */
export function calibratedRange(
  kind: CalibratorKind,
  observed: TensorRange,
  histogram: AbsHistogram | undefined,
  percentile: number,
): TensorRange {
  if (kind === "minmax" || !histogram) return { min: observed.min, max: observed.max };
  const t =
    kind === "percentile"
      ? percentileThreshold(histogram, percentile)
      : entropyThreshold(histogram);
  return { min: Math.max(observed.min, -t), max: Math.min(observed.max, t) };
}
