import { attr, createBuilder, DataType, type Model, singleModelBundle } from "@lathe/core";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { dynamicInt8Pass } from "../src/int8/dynamic-int8.js";
import { component, opCounts, relativeL2, runFloat, runPass } from "./int8-fixtures.js";

/**
 * Issue 13, failure 1: an opset-9 export (Gemm with transB, attribute-form Unsqueeze, Softmax
 * coerced to 2-D, Clip with attribute bounds) run through quantize/dynamic-int8, which emits the
 * opset-11 DynamicQuantizeLinear. Raising the import alone would leave the old forms in an
 * opset-11+ model; the engine converts the model first (exactly), and says so.
 */
function opset9Export(): Model {
  const b = createBuilder({ opset: 9 });
  const x = b.input("x", DataType.FLOAT, [2, 64]);
  const weight = (rows: number, cols: number, seed: number) =>
    b.constant(
      Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.37 + seed) * 0.2),
      [rows, cols],
    );
  // Gemm with a [N, K] weight read transposed, as torch.onnx writes Linear.
  const hidden = b.Gemm(x, weight(32, 64, 1), b.constant(new Float32Array(32).fill(0.05), [32]), {
    transB: 1,
  });
  const clipped = b.Clip(hidden, { min: attr.float("min", -0.5), max: attr.float("max", 0.5) });
  const logits = b.MatMul(clipped, weight(32, 48, 2));
  const probabilities = b.Softmax(logits, { axis: 1 });
  b.output(b.Unsqueeze(probabilities, { axes: [0] }), "y");
  return b.build();
}

const feeds = {
  x: new ort.Tensor(
    "float32",
    Float32Array.from({ length: 128 }, (_, i) => Math.cos(i * 0.11)),
    [2, 64],
  ),
};

describe("quantize/dynamic-int8 on an opset-9 model", () => {
  it("converts the model to opset 11 first, says so, and writes a model ORT loads and runs", async () => {
    const reference = await runFloat(opset9Export(), feeds, "y");
    const { result, infos } = await runPass(dynamicInt8Pass, singleModelBundle(opset9Export()));
    const model = component(result.bundle);
    expect(model.opset("")).toBe(11);
    expect(opCounts(model).DynamicQuantizeLinear).toBe(2);
    expect(infos.join("\n")).toMatch(
      /converted component "model" from opset 9 to 11 first, as quantize\/dynamic-int8 requires \(exact; clip-min-max-to-inputs ×1 \(Clip, 11\)\)/,
    );
    // Before the engine converted, this model made ORT say "No Op registered for
    // DynamicQuantizeLinear with domain_version of 9".
    const quantized = await runFloat(model, feeds, "y");
    expect(relativeL2(quantized, reference)).toBeLessThan(0.05);
  });

  it("fails the step, naming the node, when the conversion would not be exact", async () => {
    const model = opset9Export();
    // Resize-10's nearest rounding cannot be kept when one axis grows and another shrinks.
    model.opsetImports.set("", 10);
    const resize = createBuilder({ graph: model.graph, opset: 10 });
    const y = model.graph.outputs[0]!;
    const scales = resize.constant([1, 1, 2, 0.5], [4], DataType.FLOAT, "scales");
    const grown = resize.node("Resize", [y, scales], { mode: "nearest" }, { name: "odd_resize" });
    model.graph.outputs[0] = grown.output;
    const error = await runPass(dynamicInt8Pass, singleModelBundle(model)).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(
      /needs opset 11 or newer, and component "model" imports opset 10, and converting it is not exact: node "odd_resize" \(Resize\): at opset 11: nearest mode with scales \[1, 1, 2, 0.5\]/,
    );
  });
});
