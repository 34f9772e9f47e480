import {
  createBuilder,
  createCpuSessions,
  DataType,
  isLatheError,
  type Model,
  type ModelBundle,
  runPassStandalone,
  SeededRandom,
  Tensor,
} from "@lathe/core";
import { maxAbsDiff } from "@lathe/core/testing";
import { buildZooModel, zooModels } from "@lathe/plugin-zoo";
import { describe, expect, it } from "vitest";
import { latentResolution } from "../src/index.js";

const sessions = createCpuSessions();

function noise(length: number, seed: number): Float32Array {
  return new SeededRandom(seed).uniforms(length, -1, 1);
}

/** Bilinear resize with half-pixel centres (ONNX Resize linear, half_pixel) of [c, h, w] planes. */
function bilinear(x: Float32Array, c: number, h: number, w: number, H: number, W: number) {
  const out = new Float32Array(c * H * W);
  const axis = (o: number, from: number, to: number) => {
    const p = Math.min(Math.max((o + 0.5) * (from / to) - 0.5, 0), from - 1);
    const lo = Math.floor(p);
    return { lo, hi: Math.min(lo + 1, from - 1), t: p - lo };
  };
  for (let ch = 0; ch < c; ch++)
    for (let y = 0; y < H; y++)
      for (let x0 = 0; x0 < W; x0++) {
        const ay = axis(y, h, H);
        const ax = axis(x0, w, W);
        const at = (yy: number, xx: number) => x[(ch * h + yy) * w + xx] ?? 0;
        const top = at(ay.lo, ax.lo) * (1 - ax.t) + at(ay.lo, ax.hi) * ax.t;
        const bottom = at(ay.hi, ax.lo) * (1 - ax.t) + at(ay.hi, ax.hi) * ax.t;
        out[(ch * H + y) * W + x0] = top * (1 - ay.t) + bottom * ay.t;
      }
  return out;
}

async function run(model: Model, feeds: Record<string, Tensor>) {
  const [out] = await sessions.run(model, [feeds]);
  const t = Object.values(out ?? {})[0] as Tensor;
  return { values: t.toArray() as Float32Array, dims: t.dims };
}

/** A stand-in for a distill-steps sampler bundle: noise [1, 4, 8, 8] → 2·noise. */
function samplerBundle(output: "sample" | "image"): ModelBundle {
  const b = createBuilder({ opset: 14 });
  const x = b.input("noise", DataType.FLOAT, ["batch", 4, 8, 8]);
  b.output(b.Mul(x, b.constant([2], [])), "sample", DataType.FLOAT, ["batch", 4, 8, 8]);
  return {
    components: new Map([["sampler", b.build()]]),
    metadata: { sampler: { sampleShape: [4, 8, 8], output, steps: 1 } },
  };
}

describe("latent/resolution", () => {
  it("a sampler bundle samples at the reduced size and resizes its output to the full size", async () => {
    const result = await runPassStandalone(latentResolution, samplerBundle("sample"), {
      options: { scale: 0.75, multiple: 2 },
    });
    const meta = result.result.bundle.metadata as { sampler: { sampleShape: number[] } };
    expect(meta.sampler.sampleShape).toEqual([4, 6, 6]);
    expect(result.result.statistics?.["positions-ratio"]).toBe(0.5625);
    const model = result.result.bundle.components.get("sampler") as Model;
    const x = noise(4 * 36, 1);
    const out = await run(model, { noise: Tensor.fromArray(DataType.FLOAT, [1, 4, 6, 6], x) });
    expect(out.dims).toEqual([1, 4, 8, 8]);
    const expected = bilinear(
      x.map((v) => 2 * v),
      4,
      6,
      6,
      8,
      8,
    );
    expect(maxAbsDiff(out.values, expected)).toBeLessThan(1e-5);
  });

  it("a pipeline bundle: sample_size shrinks and the VAE decoder resizes the latent first", async () => {
    const bundle = () => buildZooModel(zooModels, "unet", { size: "tiny", vae: "tiny" }).bundle;
    const original = bundle().components.get("vae_decoder") as Model;
    const result = await runPassStandalone(latentResolution, bundle(), {
      options: { scale: 0.75, multiple: 2 },
    });
    const config = result.result.bundle.metadata.diffusersConfig as { sample_size: number };
    expect(config.sample_size).toBe(6);
    const decoder = result.result.bundle.components.get("vae_decoder") as Model;
    const z = noise(4 * 36, 2);
    const image = await run(decoder, {
      latent_sample: Tensor.fromArray(DataType.FLOAT, [1, 4, 6, 6], z),
    });
    const reference = await run(original, {
      latent_sample: Tensor.fromArray(DataType.FLOAT, [1, 4, 8, 8], bilinear(z, 4, 6, 6, 8, 8)),
    });
    expect(image.dims).toEqual(reference.dims);
    expect(maxAbsDiff(image.values, reference.values)).toBeLessThan(1e-4);
    // the denoiser is untouched (its spatial dims are dynamic)
    const unet = (b: ModelBundle) => (b.components.get("unet") as Model).graph.nodeCount;
    expect(unet(result.result.bundle)).toBe(unet(bundle()));
  });

  it("refuses what it cannot place, saying what to do", async () => {
    const codes: unknown[] = [];
    for (const [bundle, options] of [
      [samplerBundle("image"), { scale: 0.75, multiple: 2 }],
      [buildZooModel(zooModels, "unet", { size: "tiny" }).bundle, { scale: 0.75, multiple: 2 }],
      [samplerBundle("sample"), { scale: 0.9, multiple: 8 }],
    ] as const) {
      const error = await runPassStandalone(latentResolution, bundle, { options }).catch(
        (e: unknown) => e,
      );
      codes.push(isLatheError(error) ? error.code : error);
    }
    expect(codes).toEqual([
      "LATENT_RESOLUTION_UNSUPPORTED",
      "LATENT_RESOLUTION_UNPLACEABLE",
      "LATENT_RESOLUTION_NO_REDUCTION",
    ]);
  });
});
