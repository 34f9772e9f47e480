import {
  createBuilder,
  createCpuSessions,
  DataType,
  encodeModel,
  isLatheError,
  type LatheError,
  psnr,
  runPassStandalone,
  singleModelBundle,
} from "@lathe/core";
import { describe, expect, it } from "vitest";
import { staticInt8Pass } from "../src/int8/static-int8.js";
import {
  buildTinyUnet,
  component,
  optimizedOps,
  runPass,
  runUnetHeldOut,
  unetCalibration,
} from "./int8-fixtures.js";

const calibration = unetCalibration();

describe("quantize/static-int8: calibrators and element-wise ops", () => {
  it("calibrates with percentile and entropy too, on generated inputs when no data is named", async () => {
    const reference = await runUnetHeldOut(component(buildTinyUnet(), "unet"));
    for (const calibrator of ["percentile", "entropy"] as const) {
      const { result, warnings } = await runPass(staticInt8Pass, buildTinyUnet(), {
        calibrator,
        calibrationSamples: 4,
        inputShapes: { sample: [1, 4, 8, 8], timestep: [1], encoder_hidden_states: [1, 7, 32] },
      });
      expect(warnings.some((m) => m.includes("generated inputs"))).toBe(true);
      const out = await runUnetHeldOut(component(result.bundle, "unet"));
      // Measured: percentile 42.6 dB, entropy 34.5 dB (34.2 before the reference-exact entropy).
      expect(psnr(reference, out), calibrator).toBeGreaterThan(28);
    }
  });

  it("also puts float Add, Mul and Concat in QDQ on request; ORT runs them as QLinear ops", async () => {
    const reference = await runUnetHeldOut(component(buildTinyUnet(), "unet"));
    const bundle = buildTinyUnet();
    const float = component(bundle, "unet");
    const floatAdds = [...float.graph].filter((n) => n.opType === "Add").length;
    const { result } = await runPass(
      staticInt8Pass,
      bundle,
      { calibration: "calib", opTypes: ["Conv", "MatMul", "Gemm", "Add", "Mul", "Concat"] },
      { calib: calibration },
    );
    const quantizedAdds = Number(result.statistics?.["quantized.Add"]);
    // Float Adds only: the int64 shape arithmetic is left alone (and not reported).
    expect(quantizedAdds).toBeGreaterThan(0);
    expect(quantizedAdds).toBeLessThanOrEqual(floatAdds);
    expect(Number(result.statistics?.["quantized.Concat"])).toBeGreaterThan(0);
    const model = component(result.bundle, "unet");
    const fused = await optimizedOps(model);
    expect(fused.QLinearAdd).toBeGreaterThan(0);
    expect(fused.QLinearConcat).toBeGreaterThan(0);
    const db = psnr(reference, await runUnetHeldOut(model));
    // Measured: 35.5 dB; ORT ran 97 QLinearAdd, 81 QLinearMul and 6 QLinearConcat.
    expect(db).toBeGreaterThan(28);
  });

  it("generates calibration inputs of the recipe's target.shapes (ctx.target.shapes)", async () => {
    const shapes = { sample: [1, 4, 8, 8], timestep: [1], encoder_hidden_states: [1, 7, 32] };
    const quantize = async (settings: { options?: object; shapes?: typeof shapes }) => {
      const { result } = await runPassStandalone(staticInt8Pass, buildTinyUnet(), {
        options: { calibrationSamples: 1, ...settings.options },
        ...(settings.shapes ? { shapes: settings.shapes } : {}),
        sessions: createCpuSessions({ threads: 1 }),
      });
      return encodeModel(component(result.bundle, "unet"));
    };
    const fromTarget = await quantize({ shapes });
    // The same inputs as when the step names them, and other ones than the 16-token default.
    expect(fromTarget).toEqual(await quantize({ options: { inputShapes: shapes } }));
    expect(fromTarget).not.toEqual(await quantize({}));
  });
});

describe("quantize/static-int8: a calibration run ONNX Runtime refuses", () => {
  /**
   * Silero VAD's shape: a reflect Pad of 20 samples on each side before the first layer, so a
   * symbolic length needs more than the 16 a generated input gets (ORT: "post-pad exceeds").
   */
  function reflectPadded() {
    const b = createBuilder({ opset: 18 });
    const x = b.input("x", DataType.FLOAT, ["batch", "sequence"]);
    const padded = b.Pad(x, b.int64s([0, 20, 0, 20]), { mode: "reflect" });
    const weight = Float32Array.from({ length: 72 * 4 }, (_, i) => Math.sin(i));
    b.output(b.MatMul(padded, b.constant(weight, [72, 4])), "y");
    return singleModelBundle(b.build());
  }

  it("is a CALIBRATION_RUN_FAILED naming the generated dims and inputShapes, not ORT's bare error", async () => {
    const failure = await runPass(staticInt8Pass, reflectPadded(), { calibrationSamples: 2 }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isLatheError(failure) && failure.code).toBe("CALIBRATION_RUN_FAILED");
    const error = failure as LatheError;
    expect(error.message).toContain(
      "generated calibration inputs (x [1, 16]; the model declares x [batch, sequence])",
    );
    expect(error.hint).toContain("inputShapes");
    // with the length the model takes, the same step calibrates and quantizes the MatMul
    const { result } = await runPass(staticInt8Pass, reflectPadded(), {
      calibrationSamples: 2,
      inputShapes: { x: [1, 32] },
    });
    expect(result.statistics?.["quantized.MatMul"]).toBe(1);
  });
});
