import { join } from "node:path";
import { createBuilder, DataType, type Model, Node, saveModel } from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isBuilt, lathe, SKIP_REASON } from "./cli-helpers.js";

const built = isBuilt("check");
const STACK_FRAME = /^\s+at /m;
let dir: string;
const tempDir = tempDirs(afterAll);

/** x → Relu → y at `opset`, plus whatever `extra` appends. */
function model(
  opset: number,
  extra?: (b: ReturnType<typeof createBuilder>, relu: Node) => void,
): Model {
  const b = createBuilder({ opset });
  const x = b.input("x", DataType.FLOAT, [2, 3]);
  const relu = b.node("Relu", [x], {}, { name: "relu" });
  extra?.(b, relu);
  b.output(relu.output, "y", DataType.FLOAT, [2, 3]);
  return b.build();
}

describe.skipIf(!built)(`lathe check${built ? "" : ` (skipped: ${SKIP_REASON})`}`, () => {
  beforeAll(async () => {
    dir = tempDir("lathe-cli-check-");
    await saveModel(model(21), join(dir, "valid.onnx"));
    await saveModel(
      model(9, (b, relu) =>
        b.graph.append(
          new Node({
            opType: "DynamicQuantizeLinear",
            name: "dql",
            inputs: [relu.output],
            outputs: ["q", "s", "z"],
          }),
        ),
      ),
      join(dir, "opset9.onnx"),
    );
    await saveModel(
      model(21, (b, relu) => {
        b.opsets.set("com.microsoft", 1);
        b.graph.append(
          new Node({
            opType: "NotARealContribOp",
            domain: "com.microsoft",
            name: "c",
            inputs: [relu.output],
            outputs: ["c"],
          }),
        );
      }),
      join(dir, "contrib.onnx"),
    );
  });

  it("says a valid model is valid and exits 0", () => {
    const { status, stdout, stderr } = lathe(["check", "valid.onnx", "--load"], dir);
    expect(stderr).toBe("");
    expect(status).toBe(0);
    expect(stdout.trim()).toBe(
      "valid.onnx: 0 errors, 0 warnings; 1 node checked; ONNX Runtime loads it",
    );
  });

  it("names the node, what is wrong and a hint, and exits 1", () => {
    const { status, stdout, stderr } = lathe(["check", "opset9.onnx"], dir);
    expect(status).toBe(1);
    expect(stderr).toBe("");
    expect(stdout).toContain(
      'error OP_NOT_IN_OPSET: main › node "dql" (DynamicQuantizeLinear): DynamicQuantizeLinear exists in "ai.onnx" from opset 11; the model imports opset 9',
    );
    expect(stdout).toContain("hint: convert the model to opset 11 or newer");
    expect(stdout).not.toMatch(STACK_FRAME);
  });

  it("prints the report as JSON with --json", () => {
    const { status, stdout } = lathe(["check", "opset9.onnx", "--json"], dir);
    expect(status).toBe(1);
    const report = JSON.parse(stdout);
    expect(report).toMatchObject({ valid: false, errors: 1, warnings: 0, nodesChecked: 2 });
    expect(report.findings[0]).toMatchObject({
      code: "OP_NOT_IN_OPSET",
      node: "dql",
      graph: "main",
    });
  });

  it("with --load, reports what ONNX Runtime refuses when the checker only doubts", () => {
    const { status, stdout } = lathe(["check", "contrib.onnx", "--load"], dir);
    expect(status).toBe(1);
    expect(stdout).toContain(
      'warning UNKNOWN_OP: main › node "c" (com.microsoft::NotARealContribOp)',
    );
    expect(stdout).toMatch(/ONNX Runtime: ONNX Runtime refuses to load it: .*NotARealContribOp/);
  });

  it("reports an unreadable file as an error without a stack trace", () => {
    const { status, stderr } = lathe(["check", "missing.onnx"], dir);
    expect(status).toBe(1);
    expect(stderr).toContain("missing.onnx");
    expect(stderr).not.toMatch(STACK_FRAME);
  });
});
