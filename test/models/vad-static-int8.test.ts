/**
 * Silero VAD v5 keeps every Conv and Gemm inside an `If` on the sample rate (16 kHz in the then
 * branch, 8 kHz in the else branch). static-int8 calibrates through the branch (core's
 * exposeValues) and puts the QDQ nodes inside it: this shows the model changed where its work
 * is, that the branch the 16 kHz data never takes stays float with the reason, and the task
 * result (F1 of speech frames; quantize-floors.test.ts has every calibrator's row).
 */
import {
  checkModel,
  encodeModel,
  graphScopes,
  loadModel,
  type Model,
  runPassStandalone,
  singleModelBundle,
} from "@lathe/core";
import quantize from "@lathe/plugin-quantize";
import { beforeAll, describe, expect, it } from "vitest";
import { type RealTask, STATIC_FLOOR, type TaskScore, vadTask } from "./quantize-table.js";
import { taskData, vadModel } from "./real-models.js";

const skip = [vadModel(), taskData("speech")].find((r): r is string => typeof r === "string");

/** Op types per If branch (`then_branch`, `else_branch`), counted. */
function branchOps(model: Model): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const scope of graphScopes(model)) {
    if (scope.kind !== "subgraph") continue;
    const counts: Record<string, number> = {};
    for (const n of scope.graph) counts[n.opType] = (counts[n.opType] ?? 0) + 1;
    out[scope.attribute!] = counts;
  }
  return out;
}

describe.skipIf(skip !== undefined)("static-int8 inside the Silero VAD's If branch", () => {
  if (skip) it.skip(skip, () => {});
  let task: RealTask;
  let fp32: TaskScore;
  beforeAll(async () => {
    const made = await vadTask();
    if (typeof made === "string") throw new Error(made);
    task = made;
    fp32 = await task.score(task.path);
  });

  it("quantizes the 16 kHz branch's Convs and Gemms on real calibration data; F1 within 2 % of fp32", async () => {
    const pass = quantize.passes!.find((p) => p.id === "quantize/static-int8")!;
    const { result } = await runPassStandalone(
      pass,
      singleModelBundle(await loadModel(task.path)),
      {
        options: { calibration: "calibration", requireCalibration: true, calibrator: "minmax" },
        data: { calibration: task.calibration },
      },
    );
    const model = result.bundle.components.get("model")!;
    const stats = result.statistics ?? {};
    expect(result.modified).toBe(true);
    // the STFT Conv, four encoder Convs and the decoder Conv; the LSTM cell's two Gemms
    expect(stats["quantized.Conv"]).toBe(6);
    expect(stats["quantized.Gemm"]).toBe(2);
    expect(stats["subgraphs-visited"]).toBe(2);
    // the 8 kHz branch never runs on 16 kHz data: no range, left in float, said why
    expect(
      stats[
        "skipped: no calibrated range for its input: its If branch never ran on the calibration data"
      ],
    ).toBe(8);
    const ops = branchOps(model);
    expect(ops.then_branch!.QuantizeLinear).toBeGreaterThanOrEqual(8);
    expect(ops.then_branch!.DequantizeLinear).toBeGreaterThanOrEqual(3 * 8);
    expect(ops.else_branch!.QuantizeLinear ?? 0).toBe(0);
    expect(checkModel(model).errors).toBe(0);
    // int8 weights: the model shrinks (the 8 kHz weights stay float)
    expect(Number(stats["size-ratio"])).toBeLessThan(0.75);

    const score = await task.score(encodeModel(model));
    console.log(
      `Silero VAD static-int8 minmax: ${score.detail} vs fp32 ${fp32.detail}; branch ops ${JSON.stringify(ops.then_branch)}`,
    );
    expect(score.quality).not.toBe(fp32.quality);
    expect(score.quality).toBeGreaterThanOrEqual(fp32.quality - STATIC_FLOOR);
  }, 120_000);
});
