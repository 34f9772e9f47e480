import {
  type AdapterUse,
  checkModel,
  convertOpset,
  encodeModel,
  fromOrtRecord,
  isLatheError,
  loadModel,
  type Model,
  type Tensor,
} from "@lathe/core";
import { openOrtSession, ortFeeds } from "@lathe/core/testing";
import type { TestCase } from "./onnx-testdata.js";
import {
  firstLine,
  type LoadedDataSet,
  loadDataSet,
  SESSION_OPTIONS,
  unsupportedInterface,
} from "./ort-case.js";
import { mismatch } from "./tensor-close.js";

/** The tolerance a converted model is held to against the original's outputs on ORT. */
export const CONVERSION_TOLERANCE = { rtol: 1e-4, atol: 1e-6 } as const;

/**
 * What converting one backend test case showed. `converted`: the converted model loads on ORT
 * and computes what the original computes (on ORT, or — where ORT cannot run the original —
 * what the suite expects of it); `refused`: the converter refused, saying why; `excluded`: the
 * case cannot be judged (no tensor data, or neither the original nor the suite's outputs
 * can be reproduced); `failed`: a converted model that does not load or differs — a bug.
 */
export type ConversionOutcome =
  | {
      kind: "converted";
      from: number | undefined;
      /** Below the asked version when ORT lacks a kernel for an op's newer version. */
      target: number;
      adapters: readonly AdapterUse[];
      reference: "original on ORT" | "suite's expected outputs";
    }
  | { kind: "refused"; from: number | undefined; reason: string }
  | { kind: "excluded"; from: number | undefined; reason: string; detail: string }
  | { kind: "failed"; from: number | undefined; detail: string };

export async function convertCase(testCase: TestCase, to: number): Promise<ConversionOutcome> {
  const original = await loadModel(testCase.modelPath);
  const from = original.opset("");
  const converted = await loadModel(testCase.modelPath);
  let adapters: readonly AdapterUse[];
  try {
    adapters = convertOpset(converted, to).adapters;
  } catch (error) {
    if (!isLatheError(error)) throw error;
    return { kind: "refused", from, reason: error.message };
  }
  // The converted model must pass core's checker, as every step's output must.
  const findings = checkModel(converted).findings.filter((f) => f.severity === "error");
  if (findings.length > 0)
    return {
      kind: "failed",
      from,
      detail: `checker: ${findings.map((f) => `${f.graph} ${f.node ?? ""} (${f.op ?? ""}): ${f.message}`).join("; ")}`,
    };
  const unsupported = unsupportedInterface(original);
  if (unsupported) return { kind: "excluded", from, ...unsupported };
  let dataSets: LoadedDataSet[];
  try {
    dataSets = testCase.dataSets.map((set) => loadDataSet(set, original));
  } catch (error) {
    return {
      kind: "excluded",
      from,
      reason: "test data that is not a plain tensor",
      detail: firstLine(error),
    };
  }
  if (dataSets.length === 0)
    return { kind: "excluded", from, reason: "no test data", detail: testCase.modelPath };

  // The reference: the original on ORT, or the suite's outputs where ORT cannot run it.
  const originalRun = await runAll(testCase.modelPath, dataSets);
  const onOrt = typeof originalRun !== "string";
  const references = onOrt ? originalRun : dataSets.map((set) => Object.fromEntries(set.expected));
  const reference = onOrt ? "original on ORT" : "suite's expected outputs";
  const tolerance = onOrt ? CONVERSION_TOLERANCE : { rtol: 1e-3, atol: 1e-7 };
  let target = to;
  let results = await runAll(encodeModel(converted), dataSets);
  // ORT may lack a kernel for an op's newest version (RoiAlign-22): the newest opset ORT
  // supports for this model is then below `to`, so convert the original there instead.
  while (
    typeof results === "string" &&
    /Could not find an implementation/.test(results) &&
    target > (from ?? to)
  ) {
    target--;
    const again = await loadModel(testCase.modelPath);
    adapters = convertOpset(again, target).adapters;
    results = await runAll(encodeModel(again), dataSets);
  }
  if (typeof results === "string") {
    return onOrt
      ? { kind: "failed", from, detail: results }
      : {
          kind: "excluded",
          from,
          reason: "ORT runs neither the original nor the converted model",
          detail: results,
        };
  }
  for (const [i, outputs] of results.entries()) {
    for (const [name, expected] of Object.entries(references[i] ?? {})) {
      const actual = outputs[name];
      const problem = actual ? mismatch(expected, actual, tolerance) : "missing from the results";
      if (problem)
        return {
          kind: "failed",
          from,
          detail: `${dataSets[i]?.name}: output "${name}" against the ${reference}: ${problem}`,
        };
    }
  }
  return { kind: "converted", from, target, adapters, reference };
}

type Outputs = Record<string, Tensor>;

/** Every data set's outputs, or the first line of ORT's error. */
async function runAll(
  model: string | Uint8Array,
  dataSets: LoadedDataSet[],
): Promise<Outputs[] | string> {
  let session: Awaited<ReturnType<typeof openOrtSession>>;
  try {
    session = await openOrtSession(model, SESSION_OPTIONS);
  } catch (error) {
    return `ORT cannot load it: ${firstLine(error)}`;
  }
  try {
    const all: Outputs[] = [];
    for (const set of dataSets) {
      all.push(fromOrtRecord(await session.run(ortFeeds(set.feeds))));
    }
    return all;
  } catch (error) {
    return `ORT fails running it: ${firstLine(error)}`;
  } finally {
    await session.release();
  }
}

export type { Model };
