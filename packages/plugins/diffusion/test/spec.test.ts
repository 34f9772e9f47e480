import {
  createBuilder,
  DataType,
  isLatheError,
  type ModelBundle,
  singleModelBundle,
} from "@lathe/core";
import { describe, expect, it } from "vitest";
import { readDiffusionSpec } from "../src/index.js";

function denoiserBundle(metadata: Record<string, unknown>): ModelBundle {
  const b = createBuilder({ opset: 17 });
  const x = b.input("sample", DataType.FLOAT, ["batch", 4]);
  b.input("timestep", DataType.FLOAT, ["batch"]);
  b.output(b.Identity(x), "out_sample");
  return singleModelBundle(b.build(), metadata);
}

function refusal(metadata: Record<string, unknown>) {
  try {
    readDiffusionSpec(denoiserBundle(metadata));
  } catch (error) {
    if (!isLatheError(error)) throw error;
    return error;
  }
  throw new Error("accepted");
}

describe("diffusion metadata", () => {
  it("reads a diffusers scheduler config", () => {
    const spec = readDiffusionSpec(
      denoiserBundle({
        scheduler: {
          num_train_timesteps: 1000,
          beta_schedule: "scaled_linear",
          beta_start: 0.00085,
          beta_end: 0.012,
          prediction_type: "epsilon",
        },
      }),
    );
    expect(spec.noise.kind).toBe("vp-discrete");
    expect(spec.noise.tMax).toBe(999);
    expect(spec.prediction).toBe("epsilon");
    expect([spec.sampleInput, spec.timestepInput, spec.outputName]).toEqual([
      "sample",
      "timestep",
      "out_sample",
    ]);
    // Stable Diffusion's ᾱ at t = 999.
    expect(spec.noise.point(999).alpha ** 2).toBeCloseTo(0.00466, 4);
  });

  it("reads the `diffusion` key for each schedule type", () => {
    for (const schedule of [
      { type: "vp-discrete", alphasCumprod: [0.99, 0.5, 0.01] },
      { type: "vp-continuous", betaMin: 0.1, betaMax: 20 },
      { type: "ve", sigmaMin: 0.002, sigmaMax: 80 },
    ]) {
      const spec = readDiffusionSpec(
        denoiserBundle({ diffusion: { prediction: "sample", schedule } }),
      );
      expect(spec.noise.kind).toBe(schedule.type);
    }
  });

  it.each([
    [{}, "metadata", /noise schedule/, /diffusion: \{ prediction/],
    [
      { diffusion: { schedule: { type: "ve", sigmaMin: 0.002, sigmaMax: 80 } } },
      "metadata.diffusion.prediction",
      /prediction type is missing/,
      /epsilon, sample, v_prediction/,
    ],
    [
      { diffusion: { prediction: "eps", schedule: { type: "ve", sigmaMin: 0.002, sigmaMax: 80 } } },
      "metadata.diffusion.prediction",
      /"eps"/,
      /epsilon/,
    ],
    [
      { diffusion: { prediction: "epsilon" } },
      "metadata.diffusion.schedule",
      /schedule is missing/,
      /type: vp-discrete/,
    ],
    [
      { diffusion: { prediction: "epsilon", schedule: { type: "cosine" } } },
      "metadata.diffusion.schedule.type",
      /unknown schedule type "cosine"/,
      /vp-discrete, vp-continuous, ve/,
    ],
    [
      { diffusion: { prediction: "epsilon", schedule: { type: "ve", sigmaMin: 0.002 } } },
      "metadata.diffusion.schedule.sigmaMax",
      /sigmaMax/,
      /sigmaMax/,
    ],
    [
      {
        diffusion: { prediction: "epsilon", schedule: { type: "vp-discrete", alphasCumprod: [2] } },
      },
      "metadata.diffusion.schedule.alphasCumprod",
      /at least two numbers/,
      /ᾱ_t/,
    ],
    [
      {
        diffusion: {
          prediction: "epsilon",
          denoiser: "unet",
          schedule: { type: "ve", sigmaMin: 0.002, sigmaMax: 80 },
        },
      },
      "metadata.diffusion.denoiser",
      /"unet" is not in the bundle/,
      /model/,
    ],
  ])("refuses %j, naming %s", (metadata, where, what, hint) => {
    const error = refusal(metadata);
    expect(error.code).toBe("DIFFUSION_METADATA_INVALID");
    expect(error.where).toBe(where);
    expect(error.message).toMatch(what);
    expect(error.hint).toMatch(hint);
  });
});
