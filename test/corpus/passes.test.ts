import {
  convertOpsetPass,
  type DataRecord,
  encodeModel,
  fromOrtTensor,
  isLatheError,
  loadModel,
  type PassDefinition,
  type PassResult,
} from "@lathe/core";
import { floatValues, PassTester, runOnOrt } from "@lathe/core/testing";
import flashAttention from "@lathe/plugin-flash-attention";
import prune from "@lathe/plugin-prune";
import quantize from "@lathe/plugin-quantize";
import type * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import { type CorpusModel, corpusFeeds, loadCorpus } from "./corpus.js";

/**
 * Every pass of the built-in plugins that applies to exported transformers, on every model of
 * the corpus of real exports: the pass either returns a model that passes the checker, loads in
 * ONNX Runtime and computes outputs of the same names and shapes (finite), or declines — with a
 * LatheError that has a hint, or `modified: false` with statistics that say why. The error the
 * output makes against the original is printed as a table; only sanity bounds are asserted
 * (exactness of flash-attention on these exports is packages/plugins/flash-attention/test/corpus.test.ts).
 */

const corpus = loadCorpus();
const models = typeof corpus === "string" ? [] : corpus.models;

/** Small settings so the whole file stays cheap: few calibration records, one size. */
const OPTIONS: Record<string, Record<string, unknown>> = {
  "quantize/static-int8": { calibrationSamples: 2 },
};
const SIZES = { batch: 2, sequence: 5, context: 4, height: 2, width: 3 };
/** Models with a KV cache run a decode step (ONNX Runtime's CPU GroupQueryAttention takes several new tokens with a cache only at batch 1). */
const sizesOf = (entry: CorpusModel) => (entry.cache ? { ...SIZES, sequence: 1, past: 4 } : SIZES);

/**
 * The options and data sets of one pass on one model. A packaged model takes only some inputs
 * (the VAD: 576 samples, where a generated input's 16 fails its reflect padding; and a sample
 * rate of 16000, where generated values take the other branch of its If), so static-int8
 * calibrates on records drawn like the test's feeds (other seeds): the branch it quantizes is
 * the one the comparison runs.
 */
function settingsFor(
  pass: PassDefinition,
  entry: CorpusModel,
): { options: Record<string, unknown>; data?: Record<string, DataRecord[]> } {
  const options = { ...(OPTIONS[pass.id] ?? {}) };
  if (pass.id !== "quantize/static-int8" || !entry.package) return { options };
  const records = [2, 3].map((seed) => {
    const feeds = corpusFeeds(entry, sizesOf(entry), { seed });
    return Object.fromEntries(
      Object.entries(feeds).map(([name, tensor]) => [name, fromOrtTensor(name, tensor)]),
    );
  });
  return { options: { ...options, calibration: "corpus" }, data: { corpus: records } };
}

const passes: PassDefinition[] = [
  ...quantize.passes!,
  ...flashAttention.passes!,
  ...prune.passes!,
  convertOpsetPass as PassDefinition,
];

interface Row {
  model: string;
  pass: string;
  outcome: string;
  maxAbs?: number;
  relL2?: number;
  /** What the statistics say about what was (not) done. */
  note?: string;
}
const table: Row[] = [];

afterAll(() => {
  if (table.length === 0) return;
  const fmt = (v: number | undefined) => (v === undefined ? "" : v.toExponential(2));
  console.log(
    table
      .map((r) =>
        [
          r.model.padEnd(28),
          r.pass.padEnd(24),
          r.outcome.padEnd(36),
          fmt(r.maxAbs).padEnd(10),
          fmt(r.relL2).padEnd(10),
          r.note ?? "",
        ].join(" "),
      )
      .join("\n"),
  );
});

type Outputs = Record<string, { dims: readonly number[]; data: Float64Array | undefined }>;

/** A path (external data is read beside it) or the pass's output encoded. */
async function runOn(
  model: string | Uint8Array,
  feeds: Record<string, ort.Tensor>,
): Promise<Outputs> {
  const results = await runOnOrt(model, feeds, { logSeverityLevel: 3 });
  const outputs: Outputs = {};
  for (const [name, tensor] of Object.entries(results))
    outputs[name] = { dims: tensor.dims, data: floats(tensor) };
  return outputs;
}

/** Float outputs as float64 (fp16 ones decoded); others are not compared. */
function floats(tensor: ort.Tensor): Float64Array | undefined {
  return tensor.type.startsWith("float") ? Float64Array.from(floatValues(tensor)) : undefined;
}

/** The original's outputs, run once per model (the feeds are the same for every pass). */
const references = new Map<string, Promise<Outputs>>();
function referenceOutputs(entry: CorpusModel, feeds: Record<string, ort.Tensor>): Promise<Outputs> {
  let outputs = references.get(entry.name);
  if (!outputs) {
    outputs = runOn(entry.path, feeds);
    references.set(entry.name, outputs);
  }
  return outputs;
}

/**
 * The pass as the engine runs it (PassTester: options with defaults, the engine's contract and
 * opset-import checks, then core's verifyBundle at level `load`: checker and an ORT session).
 */
async function runPass(
  pass: PassDefinition,
  entry: CorpusModel,
): Promise<{ ran: true; result: PassResult } | { ran: false; error: unknown }> {
  const tester = new PassTester(pass, { describe, it });
  const { options, data } = settingsFor(pass, entry);
  try {
    const { result } = await tester.runCase({
      name: entry.name,
      model: () => loadModel(entry.path),
      options,
      settings: { data },
      expect: { verify: "load" },
    });
    // runCase returns a result whenever the case expects no error
    return { ran: true, result: result! };
  } catch (error) {
    return { ran: false, error };
  }
}

/** The statistics that say why: skips, declines and fusions, shortened for one table cell. */
function describeStatistics(statistics: Readonly<Record<string, number | string>>): string {
  return Object.entries(statistics)
    .filter(([key]) => /skip|declin|fused|reason|not-visited|left|candidate/i.test(key))
    .map(([key, value]) => `${key}=${value}`)
    .join("; ")
    .slice(0, 160);
}

describe.skipIf(typeof corpus === "string")("every pass on the corpus of real exports", () => {
  if (typeof corpus === "string") it.skip(corpus, () => {});

  const cases = models.flatMap((entry) =>
    passes.map((pass) => [entry.name, pass.id, entry, pass] as const),
  );
  it.each(cases)("%s × %s: a valid model or a reasoned decline", async (_m, _p, entry, pass) => {
    const row: Row = { model: entry.name, pass: pass.id, outcome: "" };
    table.push(row);
    const run = await runPass(pass, entry);
    if (!run.ran) {
      const { error } = run;
      // Declining is allowed, but only as a LatheError that says what to do.
      if (!isLatheError(error)) throw error;
      expect(error.hint, `${error.code} should carry a hint`).toBeTruthy();
      row.outcome = `declined: ${error.code}`;
      return;
    }
    const { result } = run;
    row.note = describeStatistics(result.statistics ?? {});
    if (!result.modified) {
      expect(
        row.note,
        "the statistics say why nothing changed (what was skipped or declined, or no candidate)",
      ).toMatch(/(skip|declin)[^=]*=[1-9]|candidate-nodes=0/);
      row.outcome = "unchanged";
      return;
    }
    row.outcome = "modified";
    const feeds = corpusFeeds(entry, sizesOf(entry));
    const reference = await referenceOutputs(entry, feeds);
    // every corpus model is one component
    const bytes = encodeModel(result.bundle.components.values().next().value!);
    const candidate = await runOn(bytes, feeds);
    expect(Object.keys(candidate)).toEqual(Object.keys(reference));
    let maxAbs = 0;
    let diff2 = 0;
    let ref2 = 0;
    for (const [name, ref] of Object.entries(reference)) {
      const got = candidate[name]!;
      expect(got.dims, name).toEqual(ref.dims);
      if (!ref.data) continue;
      expect(got.data, `${name} is float`).toBeDefined();
      expect(got.data!.every(Number.isFinite), `${name} is finite`).toBe(true);
      for (let i = 0; i < ref.data.length; i++) {
        const d = got.data![i]! - ref.data[i]!;
        maxAbs = Math.max(maxAbs, Math.abs(d));
        diff2 += d * d;
        ref2 += ref.data[i]! ** 2;
      }
    }
    row.maxAbs = maxAbs;
    row.relL2 = Math.sqrt(diff2 / Math.max(ref2, 1e-30));
  });
});
