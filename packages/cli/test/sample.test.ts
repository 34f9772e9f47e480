import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseNpy } from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
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

  it("says which metadata is missing for a model that is not a diffusion model", () => {
    const { status, stderr } = lathe(["sample", "zoo:gpt2?size=tiny"], dir);
    expect(status).toBe(1);
    expect(stderr).toMatch(/^error: metadata: the bundle says nothing about its noise schedule/m);
    expect(stderr).toMatch(/hint: add metadata `diffusion:/);
  });
});
