import { SeededRandom } from "../random.js";

/**
 * The largest absolute elementwise difference of two arrays of the same length (NaN when either
 * holds a NaN, so a tolerance check on it fails). Throws when the lengths differ.
 */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length)
    throw new Error(`maxAbsDiff: the arrays' lengths differ (${a.length} and ${b.length})`);
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const difference = Math.abs(Number(a[i]) - Number(b[i]));
    if (Number.isNaN(difference)) return Number.NaN;
    if (difference > max) max = difference;
  }
  return max;
}

/** `count` deterministic values in [-1, 1) from core's SeededRandom (tests never use Math.random). */
export function randomFloats(count: number, seed: number): Float32Array {
  return new SeededRandom(seed).uniforms(count, -1, 1);
}
