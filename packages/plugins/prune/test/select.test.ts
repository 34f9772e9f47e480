import { SeededRandom } from "@lathe/core";
import { describe, expect, it } from "vitest";
import { dropLowest, kthSmallest } from "../src/select.js";

/** What the masks did before: a stable sort by score (ties by index), the first `drop` zeroed. */
function bySort(scores: Float64Array, drop: number): Uint8Array {
  const keep = new Uint8Array(scores.length).fill(1);
  const order = Array.from(scores.keys());
  order.sort((a, b) => (scores[a] as number) - (scores[b] as number) || a - b);
  for (const i of order.slice(0, drop)) keep[i] = 0;
  return keep;
}

describe("lowest-score selection", () => {
  it("drops exactly what a stable sort drops, with many ties and every drop count", () => {
    const random = new SeededRandom(4);
    // Scores from a few distinct values (ties at every threshold), zeros included.
    for (const [n, distinct] of [
      [1, 1],
      [17, 3],
      [200, 7],
      [1000, 1000],
    ] as const) {
      const scores = Float64Array.from({ length: n }, () => random.int(distinct) / distinct);
      for (const drop of [0, 1, Math.floor(n / 3), Math.floor(n / 2), n - 1, n]) {
        const keep = new Uint8Array(n).fill(1);
        dropLowest(scores, drop, keep);
        expect(Array.from(keep)).toEqual(Array.from(bySort(scores, drop)));
      }
    }
  });

  it("kthSmallest is the sorted array's k-th value, and leaves its input alone", () => {
    const random = new SeededRandom(9);
    const values = Float64Array.from({ length: 501 }, () => random.normal());
    values[10] = values[20] = values[30] = 0.25;
    const before = Float64Array.from(values);
    const sorted = Float64Array.from(values).sort();
    for (const k of [0, 1, 100, 250, 499, 500]) expect(kthSmallest(values, k)).toBe(sorted[k]);
    expect(values).toEqual(before);
  });

  it("writes through `at` to another layout", () => {
    const keep = new Uint8Array(8).fill(1);
    dropLowest(Float64Array.from([3, 1, 2, 0]), 2, keep, (i) => 2 * i + 1);
    expect(Array.from(keep)).toEqual([1, 1, 1, 0, 1, 1, 1, 0]);
  });
});
