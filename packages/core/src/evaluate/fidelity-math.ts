/**
 * How close a candidate's outputs are to the reference's on the same inputs. Pure functions on
 * flat arrays (the reference first); docs/evaluate.md defines each value.
 */

export type Numbers = ArrayLike<number>;

/** ‖candidate − reference‖₂ / ‖reference‖₂; 0 for equal arrays, Infinity when only the reference is all zeros. */
export function relativeL2(reference: Numbers, candidate: Numbers): number {
  checkLengths(reference, candidate);
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < reference.length; i++) {
    const r = reference[i]!;
    const d = candidate[i]! - r;
    diff += d * d;
    norm += r * r;
  }
  if (norm === 0) return diff === 0 ? 0 : Number.POSITIVE_INFINITY;
  return Math.sqrt(diff / norm);
}

/** Cosine similarity; 1 when both are all zeros (identical), 0 when only one is. */
export function cosineSimilarity(reference: Numbers, candidate: Numbers): number {
  checkLengths(reference, candidate);
  let dot = 0;
  let a = 0;
  let b = 0;
  for (let i = 0; i < reference.length; i++) {
    const r = reference[i]!;
    const c = candidate[i]!;
    dot += r * c;
    a += r * r;
    b += c * c;
  }
  if (a === 0 && b === 0) return 1;
  if (a === 0 || b === 0) return 0;
  return dot / Math.sqrt(a * b);
}

export function maxAbsError(reference: Numbers, candidate: Numbers): number {
  checkLengths(reference, candidate);
  let max = 0;
  for (let i = 0; i < reference.length; i++) {
    const d = Math.abs(candidate[i]! - reference[i]!);
    // NaN must not hide behind Math.max's comparison rules: it makes the whole answer NaN.
    if (Number.isNaN(d)) return Number.NaN;
    if (d > max) max = d;
  }
  return max;
}

/**
 * PSNR in dB with the reference's dynamic range (max − min) as the peak, so it works for images
 * in [0, 1], [-1, 1] or latents of any scale. Identical arrays give Infinity.
 */
export function psnr(reference: Numbers, candidate: Numbers): number {
  checkLengths(reference, candidate);
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let squared = 0;
  for (let i = 0; i < reference.length; i++) {
    const r = reference[i]!;
    if (r < min) min = r;
    if (r > max) max = r;
    const d = candidate[i]! - r;
    squared += d * d;
  }
  const mse = squared / reference.length;
  if (mse === 0) return Number.POSITIVE_INFINITY;
  const peak = max - min;
  if (peak === 0) return Number.NEGATIVE_INFINITY;
  return 10 * Math.log10((peak * peak) / mse);
}

export interface LogitsAgreement {
  /** Mean over positions of KL(softmax(reference) ‖ softmax(candidate)), in nats. */
  readonly kl: number;
  /** Share of positions where both pick the same most likely token. */
  readonly top1: number;
  /** Mean over positions of |top-k(reference) ∩ top-k(candidate)| / k. */
  readonly topK: number;
  readonly positions: number;
}

/** Compares two logits arrays whose last dimension is `vocab` (every other dim is a position). */
export function logitsAgreement(
  reference: Numbers,
  candidate: Numbers,
  vocab: number,
  k = 5,
): LogitsAgreement {
  checkLengths(reference, candidate);
  if (vocab <= 0 || reference.length % vocab !== 0) {
    throw new RangeError(`logits of ${reference.length} values do not split into rows of ${vocab}`);
  }
  const positions = reference.length / vocab;
  const kk = Math.min(k, vocab);
  let kl = 0;
  let top1 = 0;
  let topK = 0;
  const p = new Float64Array(vocab);
  const q = new Float64Array(vocab);
  for (let row = 0; row < positions; row++) {
    const offset = row * vocab;
    logSoftmax(reference, offset, vocab, p);
    logSoftmax(candidate, offset, vocab, q);
    let sum = 0;
    for (let i = 0; i < vocab; i++) sum += Math.exp(p[i]!) * (p[i]! - q[i]!);
    kl += sum;
    const refTop = topIndices(p, kk);
    const candTop = topIndices(q, kk);
    if (refTop[0] === candTop[0]) top1++;
    const chosen = new Set(candTop);
    topK += refTop.filter((i) => chosen.has(i)).length / kk;
  }
  return {
    kl: positions === 0 ? 0 : kl / positions,
    top1: positions === 0 ? 1 : top1 / positions,
    topK: positions === 0 ? 1 : topK / positions,
    positions,
  };
}

/** log softmax of values[offset .. offset+n) into `out`, stable against large logits. */
function logSoftmax(values: Numbers, offset: number, n: number, out: Float64Array): void {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) max = Math.max(max, values[offset + i]!);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(values[offset + i]! - max);
  const logSum = max + Math.log(sum);
  for (let i = 0; i < n; i++) out[i] = values[offset + i]! - logSum;
}

/** Indices of the k largest values, largest first; ties go to the lower index. */
export function topIndices(values: Numbers, k: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (best.length === k && !(v > values[best[k - 1]!]!)) continue;
    let at = best.length === k ? k - 1 : best.length;
    while (at > 0 && v > values[best[at - 1]!]!) at--;
    best.splice(at, 0, i);
    if (best.length > k) best.pop();
  }
  return best;
}

function checkLengths(reference: Numbers, candidate: Numbers): void {
  if (reference.length !== candidate.length) {
    throw new RangeError(
      `the reference has ${reference.length} values and the candidate ${candidate.length}`,
    );
  }
}
