import { isLatheError, SeededRandom } from "@lathe/core";
import { maxAbsDiff } from "@lathe/core/testing";
import { gmmDiffusion, readGmmMetadata, sampleMarginal } from "@lathe/plugin-zoo";
import { describe, expect, it } from "vitest";
import { gmmQuality, liftReduced } from "../src/index.js";

describe("diffusion/gmm-quality on a reduced-space bundle (latent/pca-channels with denoiser)", () => {
  const bundle = gmmDiffusion.build({ ...gmmDiffusion.presets.d64, subspace: 8 } as never, {
    seed: 2,
  });
  const { mixture } = readGmmMetadata(bundle);
  const axes = mixture.axes ?? [];
  // U_k: the subspace's axes as columns, as the pass would record them (64 rows of 8).
  const basis = Array.from({ length: 64 }, (_, j) =>
    Array.from({ length: 8 }, (_, i) => axes[i]?.[j] ?? 0),
  );
  const data = sampleMarginal(mixture, 512, new SeededRandom(1));
  const reduced = new Float32Array(512 * 8);
  for (let r = 0; r < 512; r++)
    for (let i = 0; i < 8; i++)
      reduced[r * 8 + i] = (axes[i] ?? []).reduce((s, a, j) => s + a * (data[r * 64 + j] ?? 0), 0);

  it("lifts k-dimensional samples by the recorded basis and scores them as the full ones", () => {
    const folded = {
      ...bundle,
      metadata: { ...bundle.metadata, latentPca: { k: 8, centered: false, basis } },
    };
    const lifted = liftReduced(folded, { values: reduced, dims: [512, 8], calls: 1 }, 64);
    expect(lifted.dims).toEqual([512, 64]);
    expect(maxAbsDiff(lifted.values, data)).toBeLessThan(1e-5);
    const full = gmmQuality(mixture, { values: data, dims: [512, 64], calls: 1 });
    const ours = gmmQuality(mixture, lifted);
    expect(ours["sliced-wasserstein"]).toBeCloseTo(full["sliced-wasserstein"] ?? 0, 5);
    expect(ours["mode-coverage-tv"]).toBe(full["mode-coverage-tv"]);
  });

  it("refuses samples of another width without an uncentered basis to lift them", () => {
    try {
      liftReduced(bundle, { values: reduced, dims: [512, 8], calls: 1 }, 64);
      throw new Error("no error");
    } catch (error) {
      expect(isLatheError(error) && error.code).toBe("DIFFUSION_METRIC_MISMATCH");
      expect(String(error)).toMatch(/8 values each but the mixture has 64 dimensions/);
    }
  });
});
