import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  DataType,
  parseNpy,
  runPassStandalone,
  SeededRandom,
  saveBundle,
  Tensor,
} from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { pcaChannels } from "@lathe/plugin-latent";
import { gmmDiffusion, readGmmMetadata, sampleMarginal } from "@lathe/plugin-zoo";
import { afterAll, describe, expect, it } from "vitest";
import { isBuilt, lathe, SKIP_REASON } from "./cli-helpers.js";

const built = isBuilt("sample");
const tempDir = tempDirs(afterAll);
const dir = tempDir("lathe-sample-");

describe.skipIf(!built)(`lathe sample${built ? "" : ` (skipped: ${SKIP_REASON})`}`, () => {
  it("runs a denoiser's solver loop and writes samples.npy", () => {
    const { status, stdout, stderr } = lathe(
      [
        "sample",
        "zoo:gmm-diffusion?size=tiny",
        "--steps",
        "6",
        "--count",
        "8",
        "-o",
        "out",
        "--json",
      ],
      dir,
    );
    expect(status, stderr).toBe(0);
    const json = JSON.parse(stdout) as { dims: number[]; denoiserCalls: number; files: string[] };
    expect(json.dims).toEqual([8, 2]);
    expect(json.denoiserCalls).toBe(6);
    const samples = parseNpy(readFileSync(join(dir, "out", "samples.npy")), "samples.npy");
    expect(samples.dims).toEqual([8, 2]);
    expect((samples.toArray() as Float32Array).every(Number.isFinite)).toBe(true);
  });

  it("writes data-width samples for a bundle that diffuses in k reduced dimensions", async () => {
    // zoo gmm-diffusion d16 with its data on 4 dimensions, folded at k = 4 (latent/pca-channels).
    const config = { ...gmmDiffusion.presets.d16, subspace: 4 } as never;
    const data = sampleMarginal(
      readGmmMetadata(gmmDiffusion.build(config, { seed: 1 })).mixture,
      256,
      new SeededRandom(1),
    );
    const folded = await runPassStandalone(pcaChannels, gmmDiffusion.build(config, { seed: 1 }), {
      options: { denoiser: "model", k: 4, samples: 256, data: "train" },
      data: { train: [{ sample: Tensor.fromArray(DataType.FLOAT, [256, 16], data) }] },
    });
    await saveBundle(folded.result.bundle, join(dir, "folded"));
    const { status, stdout, stderr } = lathe(
      ["sample", "folded", "--steps", "6", "--count", "8", "-o", "lifted", "--json"],
      dir,
    );
    expect(status, stderr).toBe(0);
    const json = JSON.parse(stdout) as { dims: number[]; lifted: unknown };
    expect(json.dims).toEqual([8, 16]);
    expect(json.lifted).toEqual({ k: 4, channels: 16 });
    const samples = parseNpy(readFileSync(join(dir, "lifted", "samples.npy")), "samples.npy");
    expect(samples.dims).toEqual([8, 16]);
    const text = lathe(["sample", "folded", "--steps", "6", "--count", "2", "-o", "lifted"], dir);
    expect(text.stdout).toMatch(/lifted from the 4 reduced dimensions .* to the data's 16/);
  });

  it("says which metadata is missing for a model that is not a diffusion model", () => {
    const { status, stderr } = lathe(["sample", "zoo:gpt2?size=tiny"], dir);
    expect(status).toBe(1);
    expect(stderr).toMatch(/^error: metadata: the bundle says nothing about its noise schedule/m);
    expect(stderr).toMatch(/hint: add metadata `diffusion:/);
  });
});
