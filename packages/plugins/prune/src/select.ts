/**
 * Lowest-score selection without sorting: what a stable sort by score would pick, in linear
 * time. Masks over millions of weights (a GPT-2-small MLP holds 2.4 M) spent minutes in
 * `Array.prototype.sort` with a comparator; a quickselect on a Float64Array copy finds the
 * threshold and one pass drops what lies below it.
 */

/**
 * Zeroes in `keep` the `drop` lowest of `scores`; among equal scores at the threshold the lower
 * indices go first, as a stable ascending sort would order them. `keep[at(i)]` belongs to
 * `scores[i]` (`keep[i]` when `at` is not given).
 */
export function dropLowest(
  scores: Float64Array,
  drop: number,
  keep: Uint8Array,
  at: (i: number) => number = (i) => i,
): void {
  const n = scores.length;
  if (drop <= 0 || n === 0) return;
  if (drop >= n) {
    for (let i = 0; i < n; i++) keep[at(i)] = 0;
    return;
  }
  const threshold = kthSmallest(scores, drop - 1);
  let below = 0;
  for (let i = 0; i < n; i++) if ((scores[i] as number) < threshold) below++;
  let ties = drop - below;
  for (let i = 0; i < n; i++) {
    const s = scores[i] as number;
    if (s < threshold) keep[at(i)] = 0;
    else if (s === threshold && ties > 0) {
      keep[at(i)] = 0;
      ties--;
    }
  }
}

/** The value a numeric ascending sort of `values` would put at `k` (0-based); `values` is not changed. */
export function kthSmallest(values: Float64Array, k: number): number {
  const a = Float64Array.from(values);
  let lo = 0;
  let hi = a.length - 1;
  while (hi > lo) {
    const pivot = medianOfThree(a[lo] as number, a[(lo + hi) >>> 1] as number, a[hi] as number);
    // Hoare partition: afterwards a[lo..j] ≤ pivot ≤ a[i..hi], and a[j+1..i-1] equal the pivot.
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((a[i] as number) < pivot) i++;
      while ((a[j] as number) > pivot) j--;
      if (i <= j) {
        const t = a[i] as number;
        a[i] = a[j] as number;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k] as number;
  }
  return a[lo] as number;
}

function medianOfThree(x: number, y: number, z: number): number {
  return Math.max(Math.min(x, y), Math.min(Math.max(x, y), z));
}
