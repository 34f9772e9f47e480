import {
  createBuilder,
  DataType,
  type ModelBundle,
  relativeL2,
  SeededRandom,
  singleModelBundle,
} from "@lathe/core";
import {
  float32Tensor,
  floatOutput,
  int64Tensor,
  opCounts,
  openOrtSession,
  runOnOrt,
} from "@lathe/core/testing";
import { describe, expect, it } from "vitest";
import { dynamicInt8Pass } from "../src/int8/dynamic-int8.js";
import { component, runPass } from "./int8-fixtures.js";

/** An embedding → MatMul path and a Conv path, at `opset`. */
function build(opset: number): ModelBundle {
  const rng = new SeededRandom(4);
  const b = createBuilder({ opset });
  const ids = b.input("ids", DataType.INT64, [1, 4]);
  const image = b.input("image", DataType.FLOAT, [1, 3, 8, 8]);
  const table = b.constant(rng.normals(50 * 32), [50, 32]);
  const w = b.constant(
    rng.normals(32 * 48).map((v) => v / 6),
    [32, 48],
  );
  b.output(b.MatMul(b.Gather(table, ids), w), "hidden");
  const k = b.constant(
    rng.normals(16 * 3 * 9).map((v) => v / 5),
    [16, 3, 3, 3],
  );
  b.output(b.Conv(image, k, { kernel_shape: [3, 3] }), "features");
  return singleModelBundle(b.build());
}

async function outputs(bundle: ModelBundle): Promise<Record<string, Float32Array>> {
  const rng = new SeededRandom(9);
  const out = await runOnOrt(component(bundle), {
    ids: int64Tensor([3, 17, 42, 8], [1, 4]),
    image: float32Tensor(rng.normals(192), [1, 3, 8, 8]),
  });
  return { hidden: floatOutput(out, "hidden"), features: floatOutput(out, "features") };
}

describe("quantize/dynamic-int8 below the opsets of its forms", () => {
  const options = { opTypes: ["MatMul", "Gather", "Conv"] as ("MatMul" | "Gather" | "Conv")[] };

  it("opset 10: MatMul as com.microsoft DynamicQuantizeMatMul, Conv left float with the reason", async () => {
    const reference = await outputs(build(10));
    const { result } = await runPass(dynamicInt8Pass, build(10), { ...options, perChannel: false });
    const ops = opCounts(component(result.bundle));
    expect(ops.DynamicQuantizeLinear).toBeUndefined();
    expect(ops.DynamicQuantizeMatMul).toBe(1);
    expect(ops.Conv).toBe(1);
    expect(result.statistics?.["quantized.Gather"]).toBe(1); // one scale: DequantizeLinear-10
    expect(result.statistics?.["MatMul/Gemm form"]).toMatch(/DynamicQuantizeLinear needs opset 11/);
    expect(
      result.statistics?.[
        "skipped: DynamicQuantizeLinear needs opset 11; the model imports opset 10 (convert it first)"
      ],
    ).toBe(1);
    const out = await outputs(result.bundle);
    expect(relativeL2(reference.hidden!, out.hidden!)).toBeLessThan(0.05);
    expect(out.features).toEqual(reference.features);
  });

  it("opset 9: a table with one scale stays float (no DequantizeLinear); per-row scales work", async () => {
    const { result } = await runPass(dynamicInt8Pass, build(9), { ...options, perChannel: false });
    expect(result.statistics?.["quantized.Gather"]).toBeUndefined();
    expect(result.statistics?.["quantized.MatMul"]).toBe(1);
    await (await openOrtSession(component(result.bundle))).release();
    const perRow = await runPass(dynamicInt8Pass, build(9), options);
    expect(perRow.result.statistics?.["quantized.Gather"]).toBe(1);
    const reference = await outputs(build(9));
    const out = await outputs(perRow.result.bundle);
    expect(relativeL2(reference.hidden!, out.hidden!)).toBeLessThan(0.05);
  });
});
