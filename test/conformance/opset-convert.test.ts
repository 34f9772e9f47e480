import { NEWEST_CONVERTIBLE_OPSET } from "@lathe/core";
import { describe, expect, it } from "vitest";
import {
  listCases,
  SUITE_FOLDERS,
  TESTDATA_MISSING,
  type TestCase,
  testdataInstalled,
} from "../helpers/onnx-testdata.js";
import { type ConversionOutcome, convertCase } from "../helpers/opset-case.js";

const installed = testdataInstalled();

/**
 * The cases the converter refuses, each with the reason it gives (docs/opset-conversion.md has
 * the table). Anything else must convert, load on ORT and compute what the original computes.
 */
const REFUSED: Record<string, RegExp> = {
  // Only the preview training domain: no default-domain opset to convert.
  test_adagrad: /imports no default-domain/,
  test_adagrad_multiple: /imports no default-domain/,
  test_adam: /imports no default-domain/,
  test_adam_multiple: /imports no default-domain/,
  test_momentum: /imports no default-domain/,
  test_momentum_multiple: /imports no default-domain/,
  test_nesterov_momentum: /imports no default-domain/,
  test_resize_downsample_sizes_nearest_tf_half_pixel_for_nn: /tf_half_pixel_for_nn was removed/,
};

describe.skipIf(!installed)(
  installed ? "opset conversion on the ONNX backend test suite" : TESTDATA_MISSING,
  () => {
    it(`every model converts to opset ${NEWEST_CONVERTIBLE_OPSET} and computes what the original computes, or is refused with its reason`, async () => {
      const outcomes: { testCase: TestCase; outcome: ConversionOutcome }[] = [];
      for (const folder of SUITE_FOLDERS)
        for (const testCase of listCases(folder))
          outcomes.push({
            testCase,
            outcome: await convertCase(testCase, NEWEST_CONVERTIBLE_OPSET),
          });

      const failed = outcomes.flatMap(({ testCase, outcome }) =>
        outcome.kind === "failed" ? [`${testCase.folder}/${testCase.name}: ${outcome.detail}`] : [],
      );
      expect(failed).toEqual([]);

      const refused = Object.fromEntries(
        outcomes.flatMap(({ testCase, outcome }) =>
          outcome.kind === "refused" ? [[testCase.name, outcome.reason]] : [],
        ),
      );
      expect(Object.keys(refused).sort()).toEqual(Object.keys(REFUSED).sort());
      for (const [name, reason] of Object.entries(refused))
        expect(reason, name).toMatch(REFUSED[name]!);

      const converted = outcomes.filter((o) => o.outcome.kind === "converted");
      const used = new Set(
        converted.flatMap(({ outcome }) =>
          outcome.kind === "converted" ? outcome.adapters.map((a) => a.adapter) : [],
        ),
      );
      console.log(
        `opset conversion: ${outcomes.length} cases, ${converted.length} converted and equal on ORT, ${Object.keys(refused).length} refused, ${outcomes.length - converted.length - Object.keys(refused).length} excluded; adapters used: ${[...used].sort().join(", ")}`,
      );
      expect(converted.length).toBeGreaterThanOrEqual(1010);
      // The suite exercises the adapters that rewrite common ops, not only compatible ones.
      for (const adapter of [
        "axes-attribute-to-input",
        "slice-attributes-to-inputs",
        "softmax-coerced-2d-to-axis",
        "split-sizes-to-input",
        "split-num-outputs",
        "clip-min-max-to-inputs",
        "pad-attributes-to-inputs",
        "upsample-to-resize",
        "resize-10-to-11",
        "dropout-ratio-to-input",
        "scatter-to-scatter-elements",
        "dft-axis-to-input",
        "scan-8-to-9-batch-of-one",
        "broadcast-axis-to-numpy",
        "gemm-remove-broadcast",
        "remove-is-test",
        "prelu-channel-slope",
      ])
        expect(used, adapter).toContain(adapter);
    }, 180_000);
  },
);
