import { checkModel, formatFinding, loadModel } from "@lathe/core";
import { describe, expect, it } from "vitest";
import {
  listCases,
  SUITE_FOLDERS,
  TESTDATA_MISSING,
  testdataInstalled,
} from "../helpers/onnx-testdata.js";

const installed = testdataInstalled();
if (!installed) console.warn(TESTDATA_MISSING);

/**
 * The four models of the suite that declare IR version 5 with opset 11 (written by an onnx
 * release older than opset 11): the checker says so, as a warning, and they load.
 */
const OLD_IR_FOR_OPSET = new Set([
  "node/test_depthtospace_crd_mode",
  "node/test_depthtospace_dcr_mode",
  "node/test_resize_downsample_sizes_nearest_tf_half_pixel_for_nn",
  "node/test_unsqueeze_axis_3",
]);

/** Every model of ONNX's backend test suite is valid: the checker must find nothing wrong in any. */
describe.skipIf(!installed)(
  installed ? "checkModel on the ONNX backend test suite (libonnx-testdata)" : TESTDATA_MISSING,
  () => {
    it("finds no error in any of the suite's models and checks every node against a schema", async () => {
      const unexpected: string[] = [];
      let models = 0;
      let nodes = 0;
      let checked = 0;
      for (const folder of SUITE_FOLDERS) {
        for (const testCase of listCases(folder)) {
          const model = await loadModel(testCase.modelPath);
          const report = checkModel(model);
          models++;
          nodes += [...model.allNodes()].length;
          checked += report.nodesChecked;
          const id = `${folder}/${testCase.name}`;
          for (const finding of report.findings) {
            const expected =
              finding.code === "IR_VERSION" &&
              finding.severity === "warning" &&
              OLD_IR_FOR_OPSET.has(id);
            if (!expected) unexpected.push(`${id}: [${finding.code}] ${formatFinding(finding)}`);
          }
        }
      }
      console.log(`checker conformance: ${models} models, ${checked} of ${nodes} nodes checked`);
      expect(unexpected).toEqual([]);
      expect(models).toBeGreaterThan(1000);
      expect(checked).toBe(nodes);
    }, 120_000);
  },
);
