import { createBuilder, createCpuSessions, type DataRecord, DataType, Tensor } from "@lathe/core";
import { describe, expect, it } from "vitest";
import { calibrateRanges } from "../src/int8/calibration.js";
import {
  AbsHistogram,
  calibratedRange,
  entropyThreshold,
  MinMax,
  percentileThreshold,
} from "../src/int8/calibrators.js";

/** A histogram with given counts per bin over [0, bins] (bin width 1). */
function histogram(counts: number[]): AbsHistogram {
  const h = new AbsHistogram(counts.length, counts.length);
  counts.forEach((c, i) => {
    h.counts[i] = c;
  });
  return h;
}

describe("calibrators", () => {
  it("bins |x| and tracks min/max", () => {
    const h = new AbsHistogram(4, 4);
    h.add([-3, 0.5, 2.5, 4, -0.25]);
    expect([...h.counts]).toEqual([2, 0, 1, 2]); // 4 lands in the last bin
    const m = new MinMax();
    m.addValues([-3, 0.5, 2.5]);
    m.add(-1, 7);
    expect([m.min, m.max]).toEqual([-3, 7]);
  });

  it("percentile: the upper edge of the bin where the cumulative count reaches p %", () => {
    // 1000 values of |x| = 0.5, 1.5, …, 999.5: 99 % of them lie below 990.
    const h = new AbsHistogram(1000, 1000);
    h.add(Array.from({ length: 1000 }, (_, i) => (i % 2 ? 1 : -1) * (i + 0.5)));
    expect(percentileThreshold(h, 99)).toBe(990);
    expect(percentileThreshold(h, 100)).toBe(1000);
    expect(percentileThreshold(histogram([5, 3, 1, 1]), 80)).toBe(2); // 8 of 10 in bins 0–1
  });

  it("entropy: the KL-minimal cut, computed by hand on 8 bins → 2 levels", () => {
    // counts [40,30,20,10,3,2,1,1] (107). Cut 4: P = [40,30,20,10+7]/107; Q merges bins
    // {0,1} → 35,35 and {2,3} → 15,15 (/100); KL(P‖Q) = 0.012698, the smallest of all cuts
    // (cut 2: 0.0788, 3: 0.0137, 5: 0.0419, 8: 0.1066).
    expect(entropyThreshold(histogram([40, 30, 20, 10, 3, 2, 1, 1]), 2)).toBe(4);
    // An outlier that Q can represent exactly costs nothing: keep the full range.
    expect(entropyThreshold(histogram([4, 4, 0, 0, 0, 0, 0, 1]), 2)).toBe(8);
    // 16 bins → 4 levels with a lone outlier in the last bin: cut 5 (checked by a separate
    // reference implementation of the same formula).
    const tail = [40, 30, 20, 10, 6, 3, 2, 1, 1, 1, 0, 0, 0, 0, 0, 1];
    expect(entropyThreshold(histogram(tail), 4)).toBe(5);
  });

  it("clips the threshold to the observed range", () => {
    const h = histogram([40, 30, 20, 10, 3, 2, 1, 1]);
    expect(calibratedRange("minmax", { min: -1, max: 8 }, h, 99)).toEqual({ min: -1, max: 8 });
    // 90 % of 107 is 96.3: the cumulative counts 40, 70, 90, 100 reach it in bin 3 (edge 4).
    expect(calibratedRange("percentile", { min: -1, max: 8 }, h, 90)).toEqual({ min: -1, max: 4 });
  });

  it("collects ranges batch by batch from the model run on ORT, and leaves the model as it was", async () => {
    const b = createBuilder({ opset: 17 });
    const x = b.input("x", DataType.FLOAT, [1, 4]);
    const y = b.Relu(b.Mul(x, b.scalar(2)));
    b.output(b.Neg(y), "out");
    const model = b.build();
    const rows = [
      [1, -2, 3, 0.5],
      [-4, 2, 0, 1],
      [0.25, 0.5, -0.5, 6],
      [2, 2, 2, 2],
      [-1, -1, -1, -1],
    ];
    const records: DataRecord[] = rows.map((r) => ({
      x: Tensor.fromArray(DataType.FLOAT, [1, 4], r),
    }));
    let batches = 0;
    const ranges = await calibrateRanges(model, [x, y], {
      sessions: createCpuSessions(),
      records: async function* () {
        yield* records;
      },
      calibrator: "minmax",
      percentile: 99.999,
      batchSize: 2,
      onBatch: () => {
        batches++;
      },
    });
    expect(ranges.get(x)).toEqual({ min: -4, max: 6 });
    expect(ranges.get(y)).toEqual({ min: 0, max: 12 });
    expect(batches).toBe(3);
    expect(model.graph.outputs.map((v) => v.name)).toEqual(["out"]);
    expect(model.graph.nodeCount).toBe(3);

    // Percentile at 50 % of |x| over all 20 values (half are ≤ 1) clips x's range to ±1.
    const clipped = await calibrateRanges(model, [x], {
      sessions: createCpuSessions(),
      records: async function* () {
        yield* records;
      },
      calibrator: "percentile",
      percentile: 50,
      batchSize: 4,
    });
    const r = clipped.get(x)!;
    expect(r.min).toBeCloseTo(-1, 2);
    expect(r.max).toBeCloseTo(1, 2);
    expect(model.graph.outputs.map((v) => v.name)).toEqual(["out"]);
  });
});
