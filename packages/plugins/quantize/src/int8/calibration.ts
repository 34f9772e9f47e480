import {
  type DataRecord,
  DataType,
  exposeValues,
  type Graph,
  graphScopes,
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
  /** Element types of the tensors whose own `type` says none (exposing a branch value needs one). */
  readonly types?: ReadonlyMap<Value, DataType>;
}

/**
 * Ranges of `tensors` over the calibration data, from the model itself run on ORT with those
 * tensors exposed. First pass: ReduceMin/ReduceMax outputs per tensor (two scalars each).
 * Histogram calibrators then run a second pass with the tensors as outputs, binning |x| over
 * the first pass's range one batch at a time.
 *
 * Tensors inside If branches (at any depth) are observed too: core's `exposeValues` carries them
 * out through added branch and If outputs, and a branch not taken in a run returns an empty
 * placeholder, which counts as no observation. A tensor whose branch never ran on the data gets
 * no range (its readers stay in float). Inside Loop and Scan bodies the first pass's two
 * scalars leave stacked over the iterations (every iteration's min and max); the tensors
 * themselves would not stack when their shape changes per iteration, so a histogram calibrator
 * gives those tensors their min/max range (`noHistogram` says so).
 */
export async function calibrateRanges(
  model: Model,
  tensors: readonly Value[],
  setup: CalibrationSetup,
): Promise<Map<Value, CalibratedRange>> {
  const observed = new Map<Value, MinMax>(tensors.map((t) => [t, new MinMax()]));
  await withAugmented(model, tensors, "reduce", setup.types, async (outputs) => {
    await forEachBatch(model, setup, outputs, (results) => {
      for (const result of results) {
        tensors.forEach((t, i) => {
          // one value per run, or one per iteration of the Loop/Scan bodies around the
          // tensor; none when its branch was not taken in this run (an empty placeholder)
          const lo = read(result, outputs[2 * i]);
          const hi = read(result, outputs[2 * i + 1]);
          const range = observed.get(t)!;
          if (lo && hi) for (let k = 0; k < lo.length; k++) range.add(Number(lo[k]), Number(hi[k]));
        });
      }
    });
  });
  const histograms = new Map<Value, AbsHistogram>();
  // only what the first pass saw: a tensor whose branch never ran has no range to bin over
  const seen = tensors.filter((t) => Number.isFinite(observed.get(t)!.min));
  if (setup.calibrator !== "minmax" && seen.length > 0) {
    for (const t of seen) {
      const r = observed.get(t)!;
      histograms.set(t, new AbsHistogram(Math.max(Math.abs(r.min), Math.abs(r.max), 1e-12)));
    }
    await withAugmented(model, seen, "expose", setup.types, async (outputs) => {
      // a tensor inside a Loop or Scan body is not exposed itself: min/max for it
      seen.forEach((t, i) => {
        if (outputs[i] === undefined) histograms.delete(t);
      });
      await forEachBatch(model, setup, outputs, (results) => {
        for (const result of results) {
          seen.forEach((t, i) => {
            // a placeholder is empty and adds nothing
            const values = read(result, outputs[i]);
            if (values) histograms.get(t)?.add(values as Float32Array);
          });
        }
      });
    });
  }
  const ranges = new Map<Value, CalibratedRange>();
  for (const t of tensors) {
    const seen = observed.get(t)!;
    if (!Number.isFinite(seen.min) || !Number.isFinite(seen.max)) continue;
    const histogram = histograms.get(t);
    const range = calibratedRange(setup.calibrator, seen, histogram, {
      percentile: setup.percentile,
      symmetric: setup.symmetric ?? false,
      guard: setup.guard ?? false,
    });
    ranges.set(
      t,
      setup.calibrator !== "minmax" && !histogram ? { ...range, noHistogram: true } : range,
    );
  }
  return ranges;
}

function read(result: DataRecord, output: string | undefined) {
  return output === undefined ? undefined : result[output]?.toArray();
}

async function forEachBatch(
  model: Model,
  setup: CalibrationSetup,
  outputs: readonly (string | undefined)[],
  consume: (results: DataRecord[]) => void,
): Promise<void> {
  const names = [...new Set(outputs.filter((o): o is string => o !== undefined))];
  if (names.length === 0) return;
  await withBatchRuns(setup.sessions, model, names, async (run) => {
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
 * Adds outputs to the model while `use` runs, then takes them away again: `reduce` adds
 * ReduceMin and ReduceMax (all axes, keepdims 0) per tensor, beside it in its own graph, and
 * exposes them per iteration inside Loop/Scan bodies (two scalars stack); `expose` exposes the
 * tensors themselves, which reach the main graph from If branches only (one inside a Loop body
 * gets no output name).
 */
async function withAugmented(
  model: Model,
  tensors: readonly Value[],
  mode: "reduce" | "expose",
  types: ReadonlyMap<Value, DataType> | undefined,
  use: (outputs: (string | undefined)[]) => Promise<void>,
): Promise<void> {
  const added: Node[] = [];
  const exposed: Value[] = [];
  // a Loop or Scan body's inputs (its carried state, its slices) belong to the body
  const inputsOf = new Map<Value, Graph>();
  for (const { graph } of graphScopes(model, { functions: false }))
    for (const v of graph.inputs) inputsOf.set(v, graph);
  tensors.forEach((t, i) => {
    if (mode === "expose") {
      exposed.push(t);
      return;
    }
    const graph = t.producer()?.graph ?? inputsOf.get(t) ?? model.graph;
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
      exposed.push(node.output);
    }
  });
  const outputs = exposeValues(model, exposed, {
    ...(types ? { types } : {}),
    perIteration: mode === "reduce",
  });
  try {
    await use([...outputs.outputs]);
  } finally {
    outputs.restore();
    for (const node of added) node.graph!.remove(node, { force: true });
  }
}
