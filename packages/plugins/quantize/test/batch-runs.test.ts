import {
  createBuilder,
  createSessionFactory,
  type DataRecord,
  DataType,
  type SessionFactory,
  Tensor,
} from "@lathe/core";
import { describe, expect, it } from "vitest";
import { calibrateRanges } from "../src/int8/calibration.js";

/** CPU sessions that count what calibration asks of them; `withOpen: false` hides `open`. */
function countingSessions(withOpen: boolean) {
  const cpu = createSessionFactory({ providers: ["cpu"], threads: 1 });
  const counts = { opened: 0, released: 0, runs: 0 };
  const factory: SessionFactory = {
    run(model, inputs, options) {
      counts.runs++;
      return cpu.run(model, inputs, options);
    },
    ...(withOpen
      ? {
          async open(model) {
            counts.opened++;
            const session = await cpu.open(model);
            return {
              ...session,
              run: session.run,
              async release() {
                counts.released++;
                await session.release();
              },
            };
          },
        }
      : {}),
  };
  return { factory, counts };
}

function tinyModel() {
  const b = createBuilder({ opset: 17 });
  const x = b.input("x", DataType.FLOAT, [1, 4]);
  const y = b.Relu(b.Mul(x, b.scalar(2)));
  b.output(b.Neg(y), "out");
  return { model: b.build(), x, y };
}

const records: DataRecord[] = [
  [1, -2, 3, 0.5],
  [-4, 2, 0, 1],
  [0.25, 0.5, -0.5, 6],
  [2, 2, 2, 2],
  [-1, -1, -1, -1],
].map((r) => ({ x: Tensor.fromArray(DataType.FLOAT, [1, 4], r) }));

describe("calibration sessions", () => {
  it("opens one session per pass over the data when the factory can, with the same ranges as per-batch runs", async () => {
    const { model, x, y } = tinyModel();
    const calibrate = (sessions: SessionFactory, signal?: AbortSignal) =>
      calibrateRanges(model, [x, y], {
        sessions,
        records: async function* () {
          yield* records;
        },
        calibrator: "percentile",
        percentile: 90,
        batchSize: 2,
        ...(signal ? { signal } : {}),
      });
    const shared = countingSessions(true);
    const perBatch = countingSessions(false);
    const sharedRanges = await calibrate(shared.factory);
    const perBatchRanges = await calibrate(perBatch.factory);
    // Two passes (min/max, then histograms) of 3 batches each.
    expect(shared.counts).toEqual({ opened: 2, released: 2, runs: 0 });
    expect(perBatch.counts.runs).toBe(6);
    expect(sharedRanges.get(x)).toEqual(perBatchRanges.get(x));
    expect(sharedRanges.get(y)).toEqual(perBatchRanges.get(y));
    expect(sharedRanges.size).toBe(2);

    // Aborted between batches: the session is still released.
    const aborting = countingSessions(true);
    const controller = new AbortController();
    await calibrateRanges(model, [x], {
      sessions: aborting.factory,
      records: async function* () {
        yield* records;
      },
      calibrator: "minmax",
      percentile: 99.999,
      batchSize: 1,
      signal: controller.signal,
      onBatch: () => controller.abort(),
    });
    expect(aborting.counts).toEqual({ opened: 1, released: 1, runs: 0 });
    expect(model.graph.outputs.map((v) => v.name)).toEqual(["out"]);
  });
});
