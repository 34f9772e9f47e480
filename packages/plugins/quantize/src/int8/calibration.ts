import {
  type DataRecord,
  DataType,
  type Graph,
  type Model,
  Node,
  type SessionFactory,
  tensorType,
  type Value,
  withBatchRuns,
} from "@lathe/core";
import {
  AbsHistogram,
  type CalibratedRange,
  type CalibratorKind,
  calibratedRange,
  MinMax,
} from "./calibrators.js";

export interface CalibrationSetup {
  readonly sessions: SessionFactory;
  /** Called once per pass over the data (the histogram calibrators read it twice). */
  readonly records: () => AsyncIterable<DataRecord>;
  readonly calibrator: CalibratorKind;
  readonly percentile: number;
  /** Activations in symmetric ranges: one-sided tensors then use half the levels (default false). */
  readonly symmetric?: boolean;
  /** Entropy's squared-error guard (calibrators.ts `guardedCut`; default false). */
  readonly guard?: boolean;
  /** Records per session run: what bounds the activations held at once. */
  readonly batchSize: number;
  readonly signal?: AbortSignal;
  readonly onBatch?: (records: number) => void;
}

/**
 * Ranges of `tensors` over the calibration data, from the model itself run on ORT with those
 * tensors exposed. First pass: ReduceMin/ReduceMax outputs per tensor (two scalars each).
 * Histogram calibrators then run a second pass with the tensors as outputs, binning |x| over
 * the first pass's range one batch at a time.
 */
export async function calibrateRanges(
  model: Model,
  tensors: readonly Value[],
  setup: CalibrationSetup,
): Promise<Map<Value, CalibratedRange>> {
  const observed = new Map<Value, MinMax>(tensors.map((t) => [t, new MinMax()]));
  await withAugmented(model.graph, tensors, "reduce", async (outputs) => {
    await forEachBatch(model, setup, outputs, (results) => {
      for (const result of results) {
        tensors.forEach((t, i) => {
          const lo = result[outputs[2 * i]!]?.toArray();
          const hi = result[outputs[2 * i + 1]!]?.toArray();
          if (lo && hi && lo.length > 0) observed.get(t)!.add(Number(lo[0]), Number(hi[0]));
        });
      }
    });
  });
  const histograms = new Map<Value, AbsHistogram>();
  if (setup.calibrator !== "minmax") {
    for (const t of tensors) {
      const r = observed.get(t)!;
      histograms.set(t, new AbsHistogram(Math.max(Math.abs(r.min), Math.abs(r.max), 1e-12)));
    }
    await withAugmented(model.graph, tensors, "expose", async (outputs) => {
      await forEachBatch(model, setup, outputs, (results) => {
        for (const result of results) {
          tensors.forEach((t, i) => {
            const values = result[outputs[i]!]?.toArray();
            if (values) histograms.get(t)!.add(values as Float32Array);
          });
        }
      });
    });
  }
  const ranges = new Map<Value, CalibratedRange>();
  for (const t of tensors) {
    const seen = observed.get(t)!;
    if (!Number.isFinite(seen.min) || !Number.isFinite(seen.max)) continue;
    ranges.set(
      t,
      calibratedRange(setup.calibrator, seen, histograms.get(t), {
        percentile: setup.percentile,
        symmetric: setup.symmetric ?? false,
        guard: setup.guard ?? false,
      }),
    );
  }
  return ranges;
}

async function forEachBatch(
  model: Model,
  setup: CalibrationSetup,
  outputs: readonly string[],
  consume: (results: DataRecord[]) => void,
): Promise<void> {
  await withBatchRuns(setup.sessions, model, outputs, async (run) => {
    let batch: DataRecord[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      consume(await run(batch));
      setup.onBatch?.(batch.length);
      batch = [];
    };
    for await (const record of setup.records()) {
      if (setup.signal?.aborted) return;
      batch.push(record);
      if (batch.length >= setup.batchSize) await flush();
    }
    await flush();
  });
}

/**
 * Adds outputs to the graph while `use` runs, then takes them away again: `reduce` adds
 * ReduceMin and ReduceMax (all axes, keepdims 0) per tensor; `expose` makes the tensors
 * themselves outputs.
 */
async function withAugmented(
  graph: Graph,
  tensors: readonly Value[],
  mode: "reduce" | "expose",
  use: (outputs: string[]) => Promise<void>,
): Promise<void> {
  const outputCount = graph.outputs.length;
  const added: Node[] = [];
  const outputs: string[] = [];
  tensors.forEach((t, i) => {
    if (mode === "expose") {
      if (!graph.outputs.includes(t)) graph.outputs.push(t);
      outputs.push(t.name);
      return;
    }
    for (const op of ["ReduceMin", "ReduceMax"]) {
      const name = `lathe_calibration_${i}_${op}`;
      const node = new Node({
        opType: op,
        name,
        inputs: [t],
        outputs: [name],
        attributes: { keepdims: 0 },
      });
      node.output.type = tensorType(DataType.FLOAT, []);
      graph.append(node);
      added.push(node);
      graph.outputs.push(node.output);
      outputs.push(name);
    }
  });
  try {
    await use(outputs);
  } finally {
    graph.outputs.length = outputCount;
    for (const node of added) graph.remove(node, { force: true });
  }
}
