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

/** How the entropy calibrator searches: TensorRT's defaults are 128 levels from cut 128. */
export interface EntropyOptions {
  /**
   * Quantization levels over [0, T]: 128 for a signed or symmetric range (|x| covers one half of
   * it), 256 for a one-sided tensor in an asymmetric range, which gets every level.
   */
  readonly levels?: number;
  /** The smallest cut tried, in bins. */
  readonly firstCut?: number;
}

/**
 * TensorRT's entropy calibration, as NVIDIA's pytorch-quantization computes it
 * (`_compute_amax_entropy`; test/fixtures/entropy-reference.py checks us against a transcription):
 *
 * - the zero bin takes the count of the next one, so exact zeros (post-ReLU, padding) do not
 *   dominate: left alone, that spike makes every wide cut look costly and drags T down to the
 *   first cut, clipping most of the range;
 * - for each cut i ≥ `firstCut` bins, P is bins[0..i) with the outliers beyond i added to its last
 *   bin; Q merges bins[0..i) into `levels` groups (bin k in group ⌊k·levels/i⌋) and spreads each
 *   group's mass evenly over its non-empty bins; empty bins get none;
 * - a cut whose last bin is empty while outliers exist has KL = ∞ (P has mass where Q has none)
 *   and is never chosen;
 * - the cut with the smallest KL(P‖Q) wins, the last one on ties (the larger T), and T is its
 *   upper edge.
 *
 * Prefix sums make each cut cost one step per level instead of one per bin.
 */
export function entropyThreshold(h: AbsHistogram, options: EntropyOptions = {}): number {
  const levels = options.levels ?? 128;
  const firstCut = options.firstCut ?? 128;
  const bins = h.bins;
  if (bins <= firstCut) return h.limit;
  const counts = Float64Array.from(h.counts);
  counts[0] = counts[1]!;
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
  for (let cut = firstCut; cut <= bins; cut++) {
    const qTotal = sums[cut]!; // Q spreads each group's mass over its own bins: same total
    const outliers = total - qTotal;
    if (qTotal === 0 || (outliers > 0 && counts[cut - 1] === 0)) continue;
    let kl = 0;
    let lastShare = 0;
    for (let level = 0; level < levels; level++) {
      // Bin k is in group ⌊k·levels/cut⌋: the group starts at ⌈level·cut/levels⌉.
      const start = Math.ceil((level * cut) / levels);
      const end = Math.ceil(((level + 1) * cut) / levels);
      if (end <= start) continue;
      const mass = sums[end]! - sums[start]!;
      const filled = nonEmpty[end]! - nonEmpty[start]!;
      if (filled === 0) continue;
      const q = mass / filled / qTotal;
      if (end === cut) lastShare = q;
      // Σ over the group's non-empty bins of p·ln(p/q), with p = c / total.
      kl += (cLogC[end]! - cLogC[start]! - mass * logTotal - mass * Math.log(q)) / total;
    }
    if (outliers > 0) {
      // The outliers land in the cut's last bin (non-empty, checked above).
      const before = counts[cut - 1]! / total;
      const p = before + outliers / total;
      kl += p * Math.log(p / lastShare) - before * Math.log(before / lastShare);
    }
    if (kl <= bestKl) {
      bestKl = kl;
      bestCut = cut;
    }
  }
  return bestCut * h.width;
}

/**
 * The expected squared error per value of quantizing |x| (the histogram) with the threshold at
 * each cut (in bins, 0 … bins): clipping moves the values beyond T to T, (x − T)²; rounding
 * costs the values inside Δ²/12, Δ = T / levels. Values sit at their bin centres. Suffix sums
 * make every cut one step.
 */
export function squaredErrors(h: AbsHistogram, levels: number): Float64Array {
  const { bins, width, counts } = h;
  const errors = new Float64Array(bins + 1);
  let c0 = 0; // Σ c beyond the cut
  let c1 = 0; // Σ c·x
  let c2 = 0; // Σ c·x²
  const total = h.total;
  if (total === 0) return errors;
  for (let cut = bins; cut >= 0; cut--) {
    if (cut < bins) {
      const c = counts[cut]!;
      const x = (cut + 0.5) * width;
      c0 += c;
      c1 += c * x;
      c2 += c * x * x;
    }
    const t = cut * width;
    const step = t / levels;
    const clipping = c2 - 2 * t * c1 + t * t * c0;
    errors[cut] = (Math.max(0, clipping) + ((total - c0) * step * step) / 12) / total;
  }
  return errors;
}

/**
 * The squared-error guard on a histogram calibrator's threshold: the smallest cut ≥ `cut` bins
 * whose expected squared error is at most what the uncut range (minmax) costs. KL divergence
 * sees only how much mass is clipped, not how far it moves; where a tensor's rare large values
 * carry the signal (the strokes of a text line against its white background), it clips them
 * (up to 30 % of a recognizer's first activations) and the model's output is lost.
 */
export function guardedCut(h: AbsHistogram, cut: number, levels: number): number {
  const errors = squaredErrors(h, levels);
  const full = errors[h.bins]!;
  for (let c = Math.max(1, cut); c < h.bins; c++) if (errors[c]! <= full) return c;
  return h.bins;
}

/** A calibrated range, with the min/max it was chosen from. */
export interface CalibratedRange extends TensorRange {
  readonly observed: TensorRange;
  /** The squared-error guard raised the calibrator's threshold. */
  readonly guarded?: boolean;
  /**
   * Expected squared error of the chosen range over min/max's (histogram calibrators): far
   * above 1, clipping costs more than it saves and the model may lose its task.
   */
  readonly errorRatio?: number;
  /**
   * A histogram calibrator had no histogram of the tensor (inside a Loop or Scan body): the
   * range is its min/max.
   */
  readonly noHistogram?: boolean;
}

/** Ranges whose clipping costs more than this many times min/max's squared error are warned about. */
export const COSTLY_CLIPPING = 4;

/**
 * The range a calibrator picks: min/max, or the threshold clipped to what was observed. A
 * one-sided tensor in an asymmetric range gets all 256 levels over [0, T], so entropy searches
 * with 256 (TensorRT's `unsigned`); otherwise |x| covers half the levels: 128. With `guard`,
 * entropy's threshold is raised until clipping costs no more squared error than minmax's range
 * (`guardedCut`).
 */
export function calibratedRange(
  kind: CalibratorKind,
  observed: TensorRange,
  histogram: AbsHistogram | undefined,
  options: { readonly percentile: number; readonly symmetric: boolean; readonly guard?: boolean },
): CalibratedRange {
  const seen = { min: observed.min, max: observed.max };
  if (kind === "minmax" || !histogram) return { ...seen, observed: seen };
  const oneSided = observed.min >= 0 && !options.symmetric;
  const levels = oneSided ? 256 : 128;
  let t =
    kind === "percentile"
      ? percentileThreshold(histogram, options.percentile)
      : entropyThreshold(histogram, { levels });
  let guarded = false;
  if (kind === "entropy" && options.guard) {
    const cut = Math.round(t / histogram.width);
    const raised = guardedCut(histogram, cut, levels);
    if (raised > cut) {
      t = raised * histogram.width;
      guarded = true;
    }
  }
  const errors = squaredErrors(histogram, levels);
  const full = errors[histogram.bins]!;
  const chosen = errors[Math.min(histogram.bins, Math.round(t / histogram.width))]!;
  return {
    min: Math.max(observed.min, -t),
    max: Math.min(observed.max, t),
    observed: seen,
    ...(guarded ? { guarded } : {}),
    ...(full > 0 ? { errorRatio: chosen / full } : {}),
  };
}

/**
 * Ranges a calibrator made narrower than `fraction` of min/max: worth a line in the statistics,
 * since clipping that much is right only when the clipped values are rare outliers.
 */
export function narrowedRanges<K>(
  ranges: ReadonlyMap<K, CalibratedRange>,
  fraction = 0.25,
): { key: K; ratio: number }[] {
  const narrowed: { key: K; ratio: number }[] = [];
  for (const [key, r] of ranges) {
    const full = r.observed.max - r.observed.min;
    const ratio = full > 0 ? (r.max - r.min) / full : 1;
    if (ratio < fraction) narrowed.push({ key, ratio });
  }
  return narrowed.sort((a, b) => a.ratio - b.ratio);
}
