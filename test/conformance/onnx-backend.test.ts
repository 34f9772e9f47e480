import { join } from "node:path";
import {
  AttributeType,
  decodeModel,
  encodeModel,
  loadModel,
  type Model,
  type Node,
  tensorType,
} from "@lathe/core";
import { describe, expect, it } from "vitest";
import { modelDifferences } from "../helpers/model-equal.js";
import {
  listCases,
  SUITE_FOLDERS,
  TESTDATA_MISSING,
  TESTDATA_ROOT,
  type TestCase,
  testdataInstalled,
} from "../helpers/onnx-testdata.js";
import { type CaseOutcome, runCaseOnOrt } from "../helpers/ort-case.js";

const installed = testdataInstalled();
if (!installed) console.warn(TESTDATA_MISSING);

/**
 * The codec against ONNX's own backend test suite (~1,000 models covering every operator of
 * ONNX 1.12): each model survives decode → encode → decode unchanged, and a re-encoded model
 * computes on ONNX Runtime exactly what the suite expects of the original.
 */
describe.skipIf(!installed)(
  installed ? "ONNX backend test suite (libonnx-testdata)" : TESTDATA_MISSING,
  () => {
    describe("round trip", () => {
      // Guards against a vacuous pass: the compare must see each kind of change the codec could make.
      it("the structural compare reports a changed attribute, weight, type, node or opset", async () => {
        const path = join(TESTDATA_ROOT, "pytorch-converted", "test_Conv2d", "model.onnx");
        const original = await loadModel(path);
        expect(modelDifferences(original, await loadModel(path))).toEqual([]);
        const mutations: [string, (m: Model) => void][] = [
          [
            "attribute",
            (m) =>
              firstNode(m).setAttribute({
                name: "strides",
                type: AttributeType.INTS,
                value: [9, 9],
              }),
          ],
          ["weight byte", (m) => flipFirstByte(m)],
          ["input type", (m) => setFirstInputType(m)],
          [
            "node name",
            (m) => {
              firstNode(m).name = "renamed";
            },
          ],
          ["opset", (m) => m.opsetImports.set("", 99)],
        ];
        for (const [what, mutate] of mutations) {
          const changed = await loadModel(path);
          mutate(changed);
          expect(modelDifferences(original, changed), what).not.toEqual([]);
        }
      });

      for (const folder of SUITE_FOLDERS) {
        it(`${folder}: every model decodes, re-encodes and decodes to an equal model`, async () => {
          const cases = listCases(folder);
          const failures: string[] = [];
          for (const testCase of cases) {
            const problems = await roundTripProblems(testCase);
            if (problems.length > 0)
              failures.push(`${testCase.name}:\n    ${problems.join("\n    ")}`);
          }
          expect(cases.length).toBeGreaterThan(0);
          expect(failures, `${failures.length} of ${cases.length} models`).toEqual([]);
        }, 120_000);
      }
    });

    it("runtime identity: re-encoded models compute on ORT what the suite expects", async () => {
      const outcomes: { testCase: TestCase; outcome: CaseOutcome }[] = [];
      for (const folder of SUITE_FOLDERS) {
        for (const testCase of listCases(folder)) {
          const model = await loadModel(testCase.modelPath);
          const outcome = await runCaseOnOrt(testCase, model, encodeModel(model));
          outcomes.push({ testCase, outcome });
        }
      }
      const passed = outcomes.filter((o) => o.outcome.kind === "passed").length;
      const mismatches = outcomes.flatMap(({ testCase, outcome }) =>
        outcome.kind === "mismatch"
          ? [`${testCase.folder}/${testCase.name}: ${outcome.detail}`]
          : [],
      );
      console.log(
        summary(
          outcomes.map((o) => o.outcome),
          passed,
          mismatches.length,
        ),
      );
      expect(mismatches).toEqual([]);
      expect(passed).toBeGreaterThanOrEqual(200);
    }, 180_000);
  },
);

/** Differences after decode → encode → decode, and whether encoding is idempotent. */
async function roundTripProblems(testCase: TestCase): Promise<string[]> {
  let model: Model;
  let again: Model;
  let bytes: Uint8Array;
  try {
    model = await loadModel(testCase.modelPath);
    bytes = encodeModel(model);
    again = decodeModel(bytes, { file: `${testCase.modelPath} (re-encoded)` });
  } catch (error) {
    return [`throws: ${error instanceof Error ? error.message : String(error)}`];
  }
  const problems = modelDifferences(model, again);
  if (Buffer.compare(encodeModel(again), bytes) !== 0)
    problems.push("encode is not idempotent: encode(decode(encode(m))) ≠ encode(m)");
  return problems;
}

function summary(outcomes: CaseOutcome[], passed: number, mismatched: number): string {
  const excluded = new Map<string, number>();
  for (const o of outcomes)
    if (o.kind === "excluded") excluded.set(o.reason, (excluded.get(o.reason) ?? 0) + 1);
  const total = [...excluded.values()].reduce((a, b) => a + b, 0);
  const reasons = [...excluded].sort((a, b) => b[1] - a[1]).map(([reason, n]) => `${reason}: ${n}`);
  return `runtime identity: ${outcomes.length} checked, ${passed} passed, ${mismatched} mismatched, ${total} excluded (${reasons.join("; ")})`;
}

function firstNode(model: Model): Node {
  const node = model.graph.first;
  if (!node) throw new Error("the model has no nodes");
  return node;
}

function flipFirstByte(model: Model): void {
  const weight = [...model.graph.initializers.values()][0]?.constValue;
  if (!weight || !("bytes" in weight)) throw new Error("the model has no dense initializer");
  const bytes = weight.bytes();
  bytes[0] = (bytes[0] ?? 0) ^ 0xff;
}

function setFirstInputType(model: Model): void {
  const input = model.graph.inputs[0];
  if (input?.type?.kind !== "tensor")
    throw new Error("the model's first input is not a typed tensor");
  input.type = tensorType(input.type.elemType, [1, 2, 3]);
}
