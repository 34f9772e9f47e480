import { readFileSync } from "node:fs";
import {
  createBuilder,
  createCpuSessions,
  createPassRandom,
  type DataRecord,
  DataType,
  SeededRandom,
  Tensor,
} from "@lathe/core";
import { describe, expect, it } from "vitest";
import { calibrateRanges } from "../src/int8/calibration.js";
import { generateCalibrationRecords } from "../src/int8/calibration-inputs.js";
import {
  AbsHistogram,
  calibratedRange,
  entropyThreshold,
  MinMax,
  narrowedRanges,
  percentileThreshold,
  squaredErrors,
} from "../src/int8/calibrators.js";

interface ReferenceCase {
  name: string;
  counts: number[];
  thresholds: { unsigned: boolean; cut: number; equallyGood: number[] }[];
}
const reference = JSON.parse(
  readFileSync(new URL("./fixtures/entropy-reference.json", import.meta.url), "utf8"),
) as ReferenceCase[];

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

  it("entropy: the KL-minimal cut on small histograms (values from the reference transcription)", () => {
    // The zero bin takes bin 1's count (30), then cut 4 has the smallest KL(P‖Q): 0.00635
    // (cut 2: 0.0746, 3: 0.0420, 5: 0.0212, 8: 0.0780).
    const small = { levels: 2, firstCut: 2 };
    expect(entropyThreshold(histogram([40, 30, 20, 10, 3, 2, 1, 1]), small)).toBe(4);
    // An outlier that Q can represent exactly costs nothing: keep the full range. Cuts 3–7 end in
    // an empty bin with an outlier beyond: KL = ∞.
    expect(entropyThreshold(histogram([4, 4, 0, 0, 0, 0, 0, 1]), small)).toBe(8);
    // 16 bins → 4 levels with a lone outlier in the last bin: cut 10 (0.0259).
    const tail = [40, 30, 20, 10, 6, 3, 2, 1, 1, 1, 0, 0, 0, 0, 0, 1];
    expect(entropyThreshold(histogram(tail), { levels: 4, firstCut: 4 })).toBe(10);
  });

  // Histograms of real-looking activations (post-ReLU with a zero spike and a long tail,
  // hard-swish, Student-t, near-constant channels beside an outlier channel, a tiny calibration
  // set, a sigmoid gate) and the cut NVIDIA's reference picks on each: fixtures/entropy-reference.py.
  for (const entry of reference) {
    for (const t of entry.thresholds) {
      it(`entropy matches the reference: ${entry.name}${t.unsigned ? ", unsigned (256 levels)" : ""}`, () => {
        const h = new AbsHistogram(entry.counts.length, entry.counts.length);
        h.counts.set(entry.counts);
        const cut = entropyThreshold(h, { levels: t.unsigned ? 256 : 128 });
        expect(t.equallyGood).toContain(cut);
      });
    }
  }

  it("entropy keeps a post-ReLU tensor's range: exact zeros do not drag the threshold down", () => {
    // 45 % exact zeros, the rest half-normal: minmax would keep ~4.5; the spike used to pull the
    // threshold to the first cut (1/16 of the range).
    const values: number[] = [];
    const random = new SeededRandom(1);
    for (let i = 0; i < 40000; i++) values.push(i % 20 < 9 ? 0 : Math.abs(random.normal()));
    const max = Math.max(...values);
    const h = new AbsHistogram(max);
    h.add(values);
    const range = calibratedRange("entropy", { min: 0, max }, h, {
      percentile: 99.999,
      symmetric: false,
    });
    expect(range.max / max).toBeGreaterThan(0.6);
  });

  it("entropy's squared-error guard keeps the rare large values that carry a background-dominated tensor's signal", () => {
    // Like a text-line recognizer's first activations: 85 % background (per-channel constants,
    // three spikes near 0), the strokes spread over the whole range with a long tail.
    const random = new SeededRandom(1);
    const uniform = () => random.uniform();
    const values = Array.from({ length: 50000 }, (_, i) =>
      uniform() < 0.85 ? [0.02, 0.05, 0.07][i % 3]! * (1 + 0.02 * uniform()) : uniform() ** 3,
    );
    const max = Math.max(...values);
    const h = new AbsHistogram(max);
    h.add(values);
    const options = { percentile: 99.999, symmetric: false };
    const clippedShare = (t: number) => values.filter((v) => v > t).length / values.length;
    const errors = squaredErrors(h, 256);
    const errorAt = (t: number) => errors[Math.round(t / h.width)]!;
    // KL alone (TensorRT's reference) cuts at 7 % of the range: 8.5 % of the values clipped,
    // over 1000× minmax's squared error
    const kl = calibratedRange("entropy", { min: 0, max }, h, options);
    expect(kl.max / max).toBeLessThan(0.1);
    expect(clippedShare(kl.max)).toBeGreaterThan(0.05);
    expect(errorAt(kl.max)).toBeGreaterThan(1000 * errors[h.bins]!);
    expect(kl.guarded).toBeUndefined();
    expect(kl.errorRatio).toBeGreaterThan(1000); // static-int8 warns above COSTLY_CLIPPING
    // the guard raises it until clipping costs no more than minmax's rounding
    const guarded = calibratedRange("entropy", { min: 0, max }, h, { ...options, guard: true });
    expect(guarded.guarded).toBe(true);
    expect(guarded.max / max).toBeGreaterThan(0.9);
    expect(clippedShare(guarded.max)).toBeLessThan(0.002);
    expect(errorAt(guarded.max)).toBeLessThanOrEqual(errors[h.bins]!);
    expect(guarded.errorRatio).toBeLessThanOrEqual(1);
    // rare far outliers (2 in 200 000 at 10σ): the guard still clips them (their range would
    // cost everyone rounding error); it only moves KL's cut (3–4.5σ, by the draws) out to where the Gaussian's own
    // tail costs no more than that (about 4σ, near the squared-error optimum for 8 bits): both
    // stay below 5σ
    const outliers = new AbsHistogram(10, 2048);
    outliers.add(Array.from({ length: 200000 }, () => random.normal()));
    outliers.add([10, -10]);
    const plain = calibratedRange("entropy", { min: -10, max: 10 }, outliers, options);
    const kept = calibratedRange("entropy", { min: -10, max: 10 }, outliers, {
      ...options,
      guard: true,
    });
    expect(plain.max).toBeLessThan(5);
    expect(kept.max).toBeGreaterThanOrEqual(plain.max);
    expect(kept.max).toBeLessThan(5);
  });

  it("squared errors: clipping beyond the cut, rounding inside it", () => {
    // one value at 3.5 (bin 3 of width 1): cut 4 rounds it with step 4/2 = 2, cut 2 clips it by 1.5
    const errors = squaredErrors(histogram([0, 0, 0, 1]), 2);
    expect(errors[4]).toBeCloseTo(4 / 12);
    expect(errors[2]).toBeCloseTo(1.5 ** 2);
  });

  it("lists ranges a calibrator made far narrower than min/max", () => {
    const ranges = new Map([
      ["a", { min: 0, max: 1, observed: { min: 0, max: 10 } }],
      ["b", { min: -2, max: 2, observed: { min: -4, max: 4 } }],
      ["c", { min: 0, max: 0, observed: { min: 0, max: 0 } }],
    ]);
    expect(narrowedRanges(ranges)).toEqual([{ key: "a", ratio: 0.1 }]);
  });

  it("clips the threshold to the observed range", () => {
    const h = histogram([40, 30, 20, 10, 3, 2, 1, 1]);
    const observed = { min: -1, max: 8 };
    const options = { percentile: 90, symmetric: false };
    expect(calibratedRange("minmax", observed, h, options)).toMatchObject(observed);
    // 90 % of 107 is 96.3: the cumulative counts 40, 70, 90, 100 reach it in bin 3 (edge 4).
    expect(calibratedRange("percentile", observed, h, options)).toMatchObject({
      min: -1,
      max: 4,
      observed,
    });
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
      symmetric: false,
      batchSize: 2,
      onBatch: () => {
        batches++;
      },
    });
    expect(ranges.get(x)).toMatchObject({ min: -4, max: 6 });
    expect(ranges.get(y)).toMatchObject({ min: 0, max: 12 });
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
      symmetric: false,
      batchSize: 4,
    });
    const r = clipped.get(x)!;
    expect(r.min).toBeCloseTo(-1, 2);
    expect(r.max).toBeCloseTo(1, 2);
    expect(model.graph.outputs.map((v) => v.name)).toEqual(["out"]);
  });
});

describe("generated calibration inputs", () => {
  it("size a KV-cache decoder's total length as past + sequence", () => {
    const b = createBuilder({ opset: 17 });
    b.input("input_ids", DataType.INT64, ["batch", "sequence"]);
    b.input("attention_mask", DataType.INT64, ["batch", "total"]);
    const past = b.input("past_key_values.0.key", DataType.FLOAT, ["batch", 2, "past", 4]);
    b.output(b.Identity(past), "present.0.key");
    const [record] = generateCalibrationRecords(b.build(), 1, createPassRandom(0, "t", "t"), {});
    expect(record!.input_ids!.dims).toEqual([1, 16]);
    expect(record!["past_key_values.0.key"]!.dims).toEqual([1, 2, 16, 4]);
    expect(record!.attention_mask!.dims).toEqual([1, 32]);
  });
});
