import { describe, expect, it } from "vitest";
import { quantile, summarizeTimings } from "../../src/evaluate/stats.js";
import { DEFAULT_TIMING, timeRuns } from "../../src/evaluate/timing.js";

/** A clock that only moves when the fake model "runs": each run takes the next delay. */
function syntheticModel(delays: readonly number[]) {
  let now = 0;
  let calls = 0;
  return {
    clock: () => now,
    run: async () => {
      now += delays[calls % delays.length]!;
      calls++;
    },
    calls: () => calls,
  };
}

describe("quantile and summary", () => {
  it("interpolates between ranks as numpy's linear method does", () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([10, 20, 30, 40, 50], 0.9)).toBeCloseTo(46);
    expect(quantile([7], 0.99)).toBe(7);
  });

  it("summarizes a known sample", () => {
    const s = summarizeTimings([4, 1, 3, 2, 5]);
    expect(s).toMatchObject({ runs: 5, mean: 3, min: 1, max: 5, p50: 3 });
    expect(s.p90).toBeCloseTo(4.6);
    expect(s.p99).toBeCloseTo(4.96);
    expect(s.stddev).toBeCloseTo(Math.sqrt(2.5));
    expect(s.cv).toBeCloseTo(Math.sqrt(2.5) / 3);
  });
});

describe("timeRuns on a synthetic delay", () => {
  it("warms up, then stops at the run count when the minimum time is already reached", async () => {
    const m = syntheticModel([10]);
    const samples = await timeRuns(
      m.run,
      { warmup: 2, runs: 5, minTimeMs: 30, maxRuns: 100 },
      m.clock,
    );
    expect(samples).toEqual([10, 10, 10, 10, 10]);
    expect(m.calls()).toBe(7);
  });

  it("keeps repeating until the minimum time is reached", async () => {
    const m = syntheticModel([10]);
    const samples = await timeRuns(
      m.run,
      { warmup: 0, runs: 3, minTimeMs: 95, maxRuns: 100 },
      m.clock,
    );
    expect(samples).toHaveLength(10);
  });

  it("stops at maxRuns", async () => {
    const m = syntheticModel([1]);
    const samples = await timeRuns(
      m.run,
      { warmup: 0, runs: 3, minTimeMs: 1e9, maxRuns: 50 },
      m.clock,
    );
    expect(samples).toHaveLength(50);
  });

  it("reports the spread of a noisy delay", async () => {
    const m = syntheticModel([10, 12, 8, 10, 30]);
    const s = summarizeTimings(
      await timeRuns(m.run, { ...DEFAULT_TIMING, warmup: 0, runs: 10, minTimeMs: 0 }, m.clock),
    );
    expect(s.p50).toBe(10);
    expect(s.max).toBe(30);
    expect(s.mean).toBe(14);
    expect(s.cv).toBeGreaterThan(0.5);
  });

  it("stops when aborted", async () => {
    const m = syntheticModel([1]);
    const controller = new AbortController();
    controller.abort();
    await expect(timeRuns(m.run, DEFAULT_TIMING, m.clock, controller.signal)).rejects.toThrow();
  });
});
