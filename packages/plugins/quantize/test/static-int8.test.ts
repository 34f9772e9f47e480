import { DataType, psnr, relativeL2, SeededRandom, type Tensor } from "@lathe/core";
import { float32Tensor, opCounts, runFloat } from "@lathe/core/testing";
import { gpt2, vae } from "@lathe/plugin-zoo";
import { describe, expect, it } from "vitest";
import { staticInt8Pass } from "../src/int8/static-int8.js";
import {
  buildTinyUnet,
  component,
  lmFeeds,
  optimizedOps,
  runPass,
  runUnetHeldOut,
  tokenRows,
  top1Agreement,
  unetCalibration,
} from "./int8-fixtures.js";

const calibration = unetCalibration();

describe("quantize/static-int8", () => {
  it("puts every Conv, Gemm and weight MatMul of tiny unet in QDQ form; ORT runs it as QLinearConv", async () => {
    const reference = await runUnetHeldOut(component(buildTinyUnet(), "unet"));
    const bundle = buildTinyUnet();
    const float = opCounts(component(bundle, "unet"));
    const { result } = await runPass(
      staticInt8Pass,
      bundle,
      { calibration: "calib" },
      { calib: calibration },
    );
    const model = component(result.bundle, "unet");
    const ops = opCounts(model);
    expect(result.statistics?.["quantized.Conv"]).toBe(float.Conv);
    expect(result.statistics?.["quantized.Gemm"]).toBe(float.Gemm);
    expect(Number(result.statistics?.["quantized.MatMul"])).toBeGreaterThan(0);
    // Every Conv reads dequantized input and weight (and an int32 bias).
    for (const node of model.graph) {
      if (node.opType !== "Conv") continue;
      expect(node.inputs.map((v) => v?.producer()?.opType)).toEqual([
        "DequantizeLinear",
        "DequantizeLinear",
        "DequantizeLinear",
      ]);
      const bias = node.inputs[2]?.producer()?.inputs[0]?.constValue as Tensor;
      expect(bias.dataType).toBe(DataType.INT32);
      const weight = node.inputs[1]?.producer()?.inputs[0]?.constValue as Tensor;
      expect(weight.dataType).toBe(DataType.INT8);
    }
    expect(ops.QuantizeLinear).toBeGreaterThan(0);
    expect(Number(result.statistics?.["size-ratio"])).toBeLessThan(0.35);
    const fused = await optimizedOps(model);
    // conv_out writes the graph output, which stays float: ORT keeps that one a float Conv.
    expect(fused.QLinearConv).toBe((float.Conv ?? 0) - 1);

    const out = await runUnetHeldOut(model);
    const db = psnr(reference, out);
    // Measured on these seeds: 42.4 dB, rel L2 0.047.
    expect(db).toBeGreaterThan(35);
    expect(relativeL2(reference, out)).toBeLessThan(0.1);
  });

  it("activationType auto: symmetric int8 activations when the recipe targets tensorrt, uint8 on cpu", async () => {
    const reference = await runUnetHeldOut(component(buildTinyUnet(), "unet"));
    const activationZeros = (model: ReturnType<typeof component>) =>
      model.graph
        .nodes()
        .filter((n) => n.opType === "QuantizeLinear")
        .map((n) => n.inputs[2]?.constValue as Tensor);
    for (const [providers, type, symmetric] of [
      [["tensorrt", "cuda"], DataType.INT8, true],
      [["cpu"], DataType.UINT8, false],
    ] as const) {
      const { result, infos } = await runPass(
        staticInt8Pass,
        buildTinyUnet(),
        { calibration: "calib" },
        { calib: calibration },
        [...providers],
      );
      expect(infos.join("\n")).toMatch(
        symmetric
          ? /activations: int8, symmetric \(auto, for target tensorrt\)/
          : /activations: uint8 \(auto/,
      );
      const model = component(result.bundle, "unet");
      const zeros = activationZeros(model);
      expect(zeros.length).toBeGreaterThan(0);
      expect(new Set(zeros.map((t) => t.dataType))).toEqual(new Set([type]));
      const allZero = zeros.every((t) => Number(t.toArray()[0]) === 0);
      expect(allZero).toBe(symmetric);
      // ORT's CPU runs both forms; the symmetric one is still close to fp32
      expect(psnr(reference, await runUnetHeldOut(model))).toBeGreaterThan(30);
    }
  });

  it("quantizes tiny gpt2's Gemms and tied LM head in QDQ and keeps its top-1", async () => {
    const ids = tokenRows(2, 16, gpt2.presets.tiny.vocab, 9);
    const reference = await runFloat(
      component(gpt2.build(gpt2.presets.tiny, { seed: 3 })),
      lmFeeds(ids),
      "logits",
    );
    const { result } = await runPass(staticInt8Pass, gpt2.build(gpt2.presets.tiny, { seed: 3 }));
    const model = component(result.bundle);
    expect(result.statistics?.["quantized.Gemm"]).toBe(4 * gpt2.presets.tiny.layers);
    expect(result.statistics?.["quantized.MatMul"]).toBe(1);
    const logits = await runFloat(model, lmFeeds(ids), "logits");
    // Measured: rel L2 0.021, top-1 1 (generated calibration inputs).
    expect(relativeL2(reference, logits)).toBeLessThan(0.1);
    expect(top1Agreement(logits, reference, gpt2.presets.tiny.vocab)).toBeGreaterThanOrEqual(0.8);
  });

  it("quantizes both components of tiny vae on generated inputs", async () => {
    const build = () => vae.build(vae.presets.tiny, { seed: 2 });
    const rng = new SeededRandom(3);
    const latentChannels = vae.presets.tiny.latentChannels;
    const image = { sample: float32Tensor(rng.normals(3 * 32 * 32), [1, 3, 32, 32]) };
    const latent = {
      latent_sample: float32Tensor(rng.normals(latentChannels * 16), [1, latentChannels, 4, 4]),
    };
    const reference = build();
    const { result } = await runPass(staticInt8Pass, build(), {
      calibrationSamples: 8,
      inputShapes: { sample: [1, 3, 32, 32], latent_sample: [1, latentChannels, 4, 4] },
    });
    const convs = (b: typeof reference, name: string) => opCounts(component(b, name)).Conv ?? 0;
    expect(result.statistics?.["quantized.Conv"]).toBe(
      convs(reference, "vae_encoder") + convs(reference, "vae_decoder"),
    );
    const encoded = await runFloat(
      component(result.bundle, "vae_encoder"),
      image,
      "latent_parameters",
    );
    const encodedRef = await runFloat(
      component(reference, "vae_encoder"),
      image,
      "latent_parameters",
    );
    const decoded = await runFloat(component(result.bundle, "vae_decoder"), latent, "sample");
    const decodedRef = await runFloat(component(reference, "vae_decoder"), latent, "sample");
    // The decoder depends on which generated latents it was calibrated on: over the random
    // seeds 0-4, 8 samples gave encoder 39.0-41.5 dB and decoder 28.6-36.1 dB (4 samples let the
    // decoder fall to 21.7 dB); this run uses seed 0 (encoder 40.3, decoder 31.0).
    expect(psnr(encodedRef, encoded)).toBeGreaterThan(35);
    expect(psnr(decodedRef, decoded)).toBeGreaterThan(27);
  });
});
