import {
  createBuilder,
  DataType,
  Node,
  singleModelBundle,
  verifyModel,
  verifyPassOutput,
} from "@lathe/core";
import { describe, expect, it } from "vitest";

/** x → Relu → y, with a 4 KiB weight so the size limit can be tested. */
function model(extra?: (b: ReturnType<typeof createBuilder>) => void) {
  const b = createBuilder({ opset: 21 });
  const x = b.input("x", DataType.FLOAT, [1, 1024]);
  const w = b.constant(new Float32Array(1024).fill(1), [1024], DataType.FLOAT, "w");
  b.output(b.Relu(b.Add(x, w)), "y");
  extra?.(b);
  return b.build();
}

describe("verifyModel", () => {
  it("checks, then loads in ONNX Runtime", async () => {
    const result = await verifyModel(model(), "model", { level: "load" });
    expect(result).toMatchObject({ component: "model", loaded: true });
    expect(result.failure).toBeUndefined();
    expect(result.report?.nodesChecked).toBe(2);
  });

  it("does not load a model above the size limit, and says why", async () => {
    const result = await verifyModel(model(), "model", { level: "load", loadLimitBytes: 1000 });
    expect(result.loaded).toBe(false);
    expect(result.failure).toBeUndefined();
    expect(result.loadSkipped).toMatch(/its tensors hold 0\.0 MiB, more than the 0\.0 MiB loaded/);
  });

  it("reports the first error finding without loading; `none` checks nothing", async () => {
    const bad = model((b) => {
      b.graph.append(
        new Node({ opType: "Cast", name: "cast", inputs: [b.graph.inputs[0]!], outputs: ["c"] }),
      );
    });
    const checked = await verifyModel(bad, "unet", { level: "load" });
    expect(checked.loaded).toBe(false);
    expect(checked.failure?.message).toBe(
      'main › node "cast" (Cast): required attribute "to" (INT) of Cast-21 is missing',
    );
    expect(checked.failure?.finding?.code).toBe("MISSING_ATTRIBUTE");
    const trusted = await verifyModel(bad, "unet", { level: "none" });
    expect(trusted).toMatchObject({
      report: undefined,
      loaded: false,
      loadSkipped: "verify: none",
    });
  });

  it("reports ONNX Runtime's refusal when the checker only doubts", async () => {
    const doubtful = model((b) => {
      b.opsets.set("com.microsoft", 1);
      b.graph.append(
        new Node({
          opType: "NoSuchOp",
          domain: "com.microsoft",
          name: "c",
          inputs: [b.graph.inputs[0]!],
          outputs: ["c"],
        }),
      );
    });
    const result = await verifyModel(doubtful, "model", { level: "load" });
    expect(result.report?.warnings).toBe(1);
    expect(result.failure?.message).toMatch(/^ONNX Runtime refuses to load it: .*NoSuchOp/);
  });
});

describe("verifyPassOutput (the engine's after-pass hook)", () => {
  it("says in the log when a model is only checked because of its size", async () => {
    const notes: string[] = [];
    await verifyPassOutput(
      singleModelBundle(model()),
      "load",
      "test/pass",
      "plugin@1.0.0",
      "recipe.yaml (passes.a)",
      (m) => notes.push(m),
      1000,
    );
    expect(notes).toEqual([
      'verify: component "model" checked but not loaded in ONNX Runtime: its tensors hold 0.0 MiB, more than the 0.0 MiB loaded for verification',
    ]);
  });
});
