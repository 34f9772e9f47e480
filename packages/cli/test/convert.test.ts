import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { attr, createBuilder, DataType, loadModel, type Model, saveModel } from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isBuilt, lathe, SKIP_REASON } from "./cli-helpers.js";

const built = isBuilt("convert");
let dir: string;
const tempDir = tempDirs(afterAll);

/** An opset-9 model whose Clip and Unsqueeze change form on the way to 23. */
function opset9(): Model {
  const b = createBuilder({ opset: 9 });
  const x = b.input("x", DataType.FLOAT, [2, 3]);
  const clipped = b.Clip(x, { min: attr.float("min", 0), max: attr.float("max", 1) });
  b.output(b.Unsqueeze(clipped, { axes: [0] }), "y");
  return b.build();
}

describe.skipIf(!built)(`lathe convert${built ? "" : ` (skipped: ${SKIP_REASON})`}`, () => {
  beforeAll(async () => {
    dir = tempDir("lathe-cli-convert-");
    await saveModel(opset9(), join(dir, "model.onnx"));
  });

  it("writes the converted model and lists the adapters it used", async () => {
    const { status, stdout, stderr } = lathe(
      ["convert", "model.onnx", "--opset", "13", "-o", "out.onnx"],
      dir,
    );
    expect(stderr).toBe("");
    expect(status).toBe(0);
    expect(stdout).toContain("opset 9 → 13 (IR version 10)");
    expect(stdout).toContain("clip-min-max-to-inputs: 1 × Clip (at opset 11)");
    expect(stdout).toContain("axes-attribute-to-input: 1 × Unsqueeze (at opset 13)");
    const converted = await loadModel(join(dir, "out.onnx"));
    expect(converted.opset("")).toBe(13);
  });

  it("prints the conversion as JSON with --json (to the newest opset by default)", () => {
    const { status, stdout } = lathe(["convert", "model.onnx", "-o", "newest.onnx", "--json"], dir);
    expect(status).toBe(0);
    const json = JSON.parse(stdout);
    expect(json).toMatchObject({ from: 9, to: 23, irVersion: 11 });
    expect(json.adapters.map((a: { adapter: string }) => a.adapter)).toContain(
      "clip-min-max-to-inputs",
    );
  });

  it("refuses, writing nothing, and names the file, the node and why", async () => {
    const b = createBuilder({ opset: 8 });
    const x = b.input("x", DataType.FLOAT, [2, 3]);
    const c = (v: number) => b.constant([v, v, v], [3]);
    b.output(
      b.node("BatchNormalization", [x, c(1), c(0), c(0), c(1)], { spatial: 0 }, { name: "bn" })
        .output,
      "y",
    );
    await saveModel(b.build(), join(dir, "bn.onnx"));
    const { status, stderr } = lathe(["convert", "bn.onnx", "-o", "bn-23.onnx"], dir);
    expect(status).toBe(1);
    expect(stderr).toContain("bn.onnx: cannot convert from opset 8 to 23 exactly");
    expect(stderr).toContain('node "bn" (BatchNormalization): at opset 9: spatial=0');
    expect(stderr).toContain("hint:");
    expect(stderr).not.toMatch(/^\s+at /m);
    await expect(readFile(join(dir, "bn-23.onnx"))).rejects.toThrow();
  });
});
