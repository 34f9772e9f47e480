import { readFileSync } from "node:fs";
import {
  DataType,
  decodeTensor,
  fromOrtTensor,
  type Model,
  ORT_DATA_TYPES,
  type Tensor,
} from "@lathe/core";
import { type OrtOutputs, openOrtSession, ortFeeds } from "@lathe/core/testing";
import * as ort from "onnxruntime-node";
import type { DataSet, TestCase } from "./onnx-testdata.js";
import { mismatch } from "./tensor-close.js";

// Cases whose originals ORT rejects are expected (and excluded); their native error logs are noise.
ort.env.logLevel = "fatal";

/**
 * What running one backend test case on ORT showed. `excluded` means the case says nothing
 * about the codec (ORT or its JavaScript API cannot run the original as the suite expects);
 * `mismatch` means the original passes but the re-encoded model does not: a codec bug.
 */
export type CaseOutcome =
  | { kind: "passed" }
  | { kind: "excluded"; reason: string; detail: string }
  | { kind: "mismatch"; detail: string };

/**
 * One thread per session: these models are tiny, and thread pools cost more than they save.
 * ORT's log stays quiet: every failure comes back as an exception and lands in the summary.
 */
export const SESSION_OPTIONS = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  logSeverityLevel: 4,
} as const;

export interface LoadedDataSet {
  name: string;
  feeds: Record<string, Tensor>;
  expected: [string, Tensor][];
}

/**
 * Runs the case's original file, then `reencoded`, on every data set and compares each with
 * the expected outputs. `model` is the decoded original (it names the inputs and outputs).
 */
export async function runCaseOnOrt(
  testCase: TestCase,
  model: Model,
  reencoded: Uint8Array,
): Promise<CaseOutcome> {
  const unsupported = unsupportedInterface(model);
  if (unsupported) return { kind: "excluded", ...unsupported };
  if (testCase.dataSets.length === 0)
    return { kind: "excluded", reason: "no test data", detail: testCase.modelPath };
  let dataSets: LoadedDataSet[];
  try {
    dataSets = testCase.dataSets.map((set) => loadDataSet(set, model));
  } catch (error) {
    return {
      kind: "excluded",
      reason: "test data that is not a plain tensor",
      detail: firstLine(error),
    };
  }

  let original: ort.InferenceSession;
  try {
    original = await openOrtSession(testCase.modelPath, SESSION_OPTIONS);
  } catch (error) {
    return { kind: "excluded", reason: "ORT cannot load the original", detail: firstLine(error) };
  }
  try {
    for (const set of dataSets) {
      const problem = await runDataSet(original, set);
      if (problem) {
        const reason = problem.failed
          ? "ORT fails running the original"
          : "the original's outputs differ from expected";
        return { kind: "excluded", reason, detail: problem.detail };
      }
    }
  } finally {
    await original.release();
  }

  let session: ort.InferenceSession;
  try {
    session = await openOrtSession(reencoded, SESSION_OPTIONS);
  } catch (error) {
    return {
      kind: "mismatch",
      detail: `ORT cannot load the re-encoded model: ${firstLine(error)}`,
    };
  }
  try {
    for (const set of dataSets) {
      const problem = await runDataSet(session, set);
      if (problem) return { kind: "mismatch", detail: `re-encoded model: ${problem.detail}` };
    }
  } finally {
    await session.release();
  }
  return { kind: "passed" };
}

/** Why ORT's JavaScript API cannot feed or read this model's inputs and outputs, if it cannot. */
export function unsupportedInterface(model: Model): { reason: string; detail: string } | undefined {
  const graph = model.graph;
  const io = [...graph.inputs.filter((v) => !v.isConstant), ...graph.outputs];
  for (const value of io) {
    const type = value.type;
    if (!type) continue;
    if (type.kind !== "tensor") {
      return {
        reason: `${type.kind} inputs or outputs (not tensors)`,
        detail: `"${value.name}" is a ${type.kind}`,
      };
    }
    if (type.elemType !== DataType.STRING && !ORT_DATA_TYPES.includes(type.elemType)) {
      return {
        reason: "a tensor type ORT's JavaScript API lacks",
        detail: `"${value.name}" has data type ${type.elemType}`,
      };
    }
  }
  return undefined;
}

/** Input K feeds the model's K-th graph input and output K is its K-th output, as in ONNX's runner. */
export function loadDataSet(set: DataSet, model: Model): LoadedDataSet {
  const read = (path: string) => decodeTensor(readFileSync(path), path);
  const feeds: Record<string, Tensor> = {};
  set.inputs.forEach((path, k) => {
    const name = model.graph.inputs[k]?.name;
    if (name === undefined) throw new Error(`${path}: the model has no input ${k}`);
    feeds[name] = read(path);
  });
  const expected = set.outputs.map((path, k): [string, Tensor] => {
    const name = model.graph.outputs[k]?.name;
    if (name === undefined) throw new Error(`${path}: the model has no output ${k}`);
    return [name, read(path)];
  });
  return { name: set.dir, feeds, expected };
}

async function runDataSet(
  session: ort.InferenceSession,
  set: LoadedDataSet,
): Promise<{ failed: boolean; detail: string } | undefined> {
  let results: OrtOutputs;
  try {
    results = await session.run(ortFeeds(set.feeds));
  } catch (error) {
    return { failed: true, detail: `${set.name}: ${firstLine(error)}` };
  }
  for (const [name, expected] of set.expected) {
    const actual = results[name];
    const problem = actual
      ? mismatch(expected, fromOrtTensor(name, actual))
      : "missing from the results";
    if (problem) return { failed: false, detail: `${set.name}: output "${name}": ${problem}` };
  }
  return undefined;
}

export function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const line = text.split("\n", 1)[0] ?? "";
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}
