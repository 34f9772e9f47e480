import {
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
import {
  buildZooModel,
  exactNoisePrediction,
  gmmDiffusion,
  readGmmMetadata,
  sampleMarginal,
  zooModels,
} from "@lathe/plugin-zoo";
import { describe, expect, it } from "vitest";
import { denoiserLayers, foldDenoiser, pcaChannels } from "../src/index.js";

const sessions = createCpuSessions();

async function run(model: Model, feeds: Record<string, Tensor>) {
  const [out] = await sessions.run(model, [feeds]);
  const t = Object.values(out ?? {})[0] as Tensor;
  return { values: t.toArray() as Float32Array, dims: t.dims };
}

const float = (dims: number[], values: ArrayLike<number>) =>
  Tensor.fromArray(DataType.FLOAT, dims, Float32Array.from(values));

/** x = U·z per row (channels at axis 1, positions after): U is C×k row-major. */
function lift(z: ArrayLike<number>, basis: Float64Array, dims: number[], c: number, k: number) {
  const [n = 0, , ...rest] = dims;
  const plane = rest.reduce((a, b) => a * b, 1);
  const out = new Float64Array(n * c * plane);
  for (let b = 0; b < n; b++)
    for (let p = 0; p < plane; p++)
      for (let j = 0; j < c; j++) {
        let v = 0;
        for (let i = 0; i < k; i++)
          v += (basis[j * k + i] ?? 0) * (z[(b * k + i) * plane + p] ?? 0);
        out[(b * c + j) * plane + p] = v;
      }
  return out;
}

/** z = Uᵀ·x per row. */
function project(x: ArrayLike<number>, basis: Float64Array, dims: number[], c: number, k: number) {
  const [n = 0, , ...rest] = dims;
  const plane = rest.reduce((a, b) => a * b, 1);
  const out = new Float64Array(n * k * plane);
  for (let b = 0; b < n; b++)
    for (let p = 0; p < plane; p++)
      for (let i = 0; i < k; i++) {
        let v = 0;
        for (let j = 0; j < c; j++)
          v += (basis[j * k + i] ?? 0) * (x[(b * c + j) * plane + p] ?? 0);
        out[(b * k + i) * plane + p] = v;
      }
  return out;
}

function basisOf(metadata: ModelBundle["metadata"]): { basis: Float64Array; k: number } {
  const pca = metadata.latentPca as { basis: number[][]; k: number };
  return { basis: Float64Array.from(pca.basis.flat()), k: pca.k };
}

/** A random C×k matrix with orthonormal columns (Gram–Schmidt). */
function randomBasis(c: number, k: number, seed: number): Float64Array {
  const rng = new SeededRandom(seed);
  const columns: number[][] = [];
  for (let i = 0; i < k; i++) {
    const v = Array.from({ length: c }, () => rng.normal());
    for (const u of columns) {
      const d = u.reduce((s, x, j) => s + x * (v[j] ?? 0), 0);
      for (let j = 0; j < c; j++) v[j] = (v[j] ?? 0) - d * (u[j] ?? 0);
    }
    const norm = Math.hypot(...v);
    columns.push(v.map((x) => x / norm));
  }
  return Float64Array.from({ length: c * k }, (_, n) => columns[n % k]?.[Math.floor(n / k)] ?? 0);
}

const DIM = 64;
const RANK = 8;

function gmmOnSubspace() {
  const bundle = gmmDiffusion.build({ ...gmmDiffusion.presets.d64, subspace: RANK } as never, {
    seed: 3,
  });
  const { mixture, schedule } = readGmmMetadata(bundle);
  const data = sampleMarginal(mixture, 512, new SeededRandom(5));
  return { bundle, mixture, schedule, train: [{ sample: float([512, DIM], data) }] };
}

async function foldGmm(k: number) {
  const gmm = gmmOnSubspace();
  // The pass edits the bundle it is given: fold a second build, keep this one as the original.
  const result = await runPassStandalone(pcaChannels, gmmOnSubspace().bundle, {
    options: { denoiser: "model", k, samples: 512, data: "train" },
    data: { train: gmm.train },
  });
  return { ...gmm, result: result.result };
}

describe("latent/pca-channels folded into a denoiser (diffusion in k channels)", () => {
  it("finds zoo gmm-diffusion's 8-dimensional subspace and folds U_k into proj_in/proj_out exactly", async () => {
    const { bundle, mixture, schedule, result } = await foldGmm(RANK);
    const stats = result.statistics ?? {};
    expect(stats.denoiser).toBe("model");
    expect(stats["explained.k8"] as number).toBeGreaterThan(1 - 1e-9);
    expect(stats["explained.k7"] as number).toBeLessThan(0.99);
    const { basis, k } = basisOf(result.bundle.metadata);
    expect(k).toBe(RANK);
    const folded = result.bundle.components.get("model") as Model;
    expect(folded.graph.inputs[0]?.type).toMatchObject({ shape: { dims: ["batch_size", RANK] } });
    expect(folded.graph.outputs[0]?.type).toMatchObject({ shape: { dims: ["batch_size", RANK] } });
    // The folded output is U_kᵀ·ε(U_k·z′): the original model on the lifted input, projected.
    const rng = new SeededRandom(9);
    const rows = 32;
    const timesteps = Array.from({ length: rows }, (_, i) => [0, 10, 300, 700, 999][i % 5] ?? 0);
    const z = Float32Array.from({ length: rows * RANK }, () => rng.normal());
    const t = float([rows], timesteps);
    const got = await run(folded, { sample: float([rows, RANK], z), timestep: t });
    const lifted = lift(z, basis, [rows, RANK], DIM, RANK);
    const original = bundle.components.get("model") as Model;
    const full = await run(original, { sample: float([rows, DIM], lifted), timestep: t });
    const expected = project(full.values, basis, [rows, DIM], DIM, RANK);
    expect(maxAbsDiff(got.values, expected)).toBeLessThan(1e-4);
    // And the same as the exact ε̂ of the 64-dimensional mixture, projected (not vacuous).
    const alphaBars = timesteps.map((s) => schedule.alphasCumprod[s] ?? 0);
    const exact = project(
      exactNoisePrediction(mixture, lifted, alphaBars),
      basis,
      [rows, DIM],
      DIM,
      RANK,
    );
    expect(maxAbsDiff(got.values, exact)).toBeLessThan(1e-4);
    expect(Math.max(...exact.map(Math.abs))).toBeGreaterThan(1);
  });

  it("without a data set, finds the subspace from the denoiser's own DDIM samples", async () => {
    const logs: string[] = [];
    const run = await runPassStandalone(pcaChannels, gmmOnSubspace().bundle, {
      options: { denoiser: "model", samples: 64, sampleSteps: 20, explainedVariance: 0.999999 },
      logger: { debug() {}, info() {}, warn: (m: string) => logs.push(m) },
    });
    expect(logs.join("\n")).toMatch(/drawn from model itself \(DDIM, 20 steps\)/);
    const stats = run.result.statistics ?? {};
    expect(stats.k).toBe(RANK);
    expect(stats["explained.k8"] as number).toBeGreaterThan(1 - 1e-9);
    expect(stats["explained.k7"] as number).toBeLessThan(0.999);
  });

  it("leaves the denoiser unchanged with k = C: U·ε′(Uᵀ·x) = ε(x)", async () => {
    const { bundle, mixture, schedule, result } = await foldGmm(DIM);
    const { basis } = basisOf(result.bundle.metadata);
    const folded = result.bundle.components.get("model") as Model;
    const rows = 24;
    const timesteps = Array.from({ length: rows }, (_, i) => [5, 200, 600, 990][i % 4] ?? 0);
    const x = new Float32Array(rows * DIM);
    timesteps.forEach((s, r) => {
      x.set(sampleMarginal(mixture, 1, new SeededRandom(r), schedule.alphasCumprod[s]), r * DIM);
    });
    const t = float([rows], timesteps);
    const rotated = project(x, basis, [rows, DIM], DIM, DIM);
    const got = await run(folded, { sample: float([rows, DIM], rotated), timestep: t });
    const back = lift(got.values, basis, [rows, DIM], DIM, DIM);
    const original = await run(bundle.components.get("model") as Model, {
      sample: float([rows, DIM], x),
      timestep: t,
    });
    expect(maxAbsDiff(back, original.values)).toBeLessThan(1e-4);
  });

  it.each([
    { k: 2, side: 8 },
    { k: 4, side: 12 },
  ])(
    "folds U_k into the zoo unet's conv_in and conv_out exactly (k = $k, $side×$side latent)",
    async ({ k, side }) => {
      const unet = buildZooModel(zooModels, "unet", { size: "tiny" }).bundle.components.get(
        "unet",
      ) as Model;
      const original = buildZooModel(zooModels, "unet", { size: "tiny" }).bundle.components.get(
        "unet",
      ) as Model;
      const layers = denoiserLayers(unet, "unet");
      expect([layers.input.node.name, layers.output.node.name]).toEqual([
        "/conv_in/Conv",
        "/conv_out/Conv",
      ]);
      const basis = randomBasis(4, k, k);
      foldDenoiser(unet, layers, basis, k);
      const rng = new SeededRandom(side);
      const z = Float32Array.from({ length: 2 * k * side * side }, () => rng.normal());
      const context = float(
        [2, 7, 32],
        Float32Array.from({ length: 2 * 7 * 32 }, () => rng.normal()),
      );
      const timestep = float([2], [10, 700]);
      const got = await run(unet, {
        sample: float([2, k, side, side], z),
        timestep,
        encoder_hidden_states: context,
      });
      expect(got.dims).toEqual([2, k, side, side]);
      const lifted = lift(z, basis, [2, k, side, side], 4, k);
      const full = await run(original, {
        sample: float([2, 4, side, side], lifted),
        timestep,
        encoder_hidden_states: context,
      });
      const expected = project(full.values, basis, [2, 4, side, side], 4, k);
      // Zero padding at the borders is exact too: nothing is subtracted from the latent.
      expect(maxAbsDiff(got.values, expected)).toBeLessThan(1e-4);
      expect(Math.max(...expected.map(Math.abs))).toBeGreaterThan(0.1);
    },
  );

  it("folds one uncentered basis into a VAE and its unet together", async () => {
    const vae = buildZooModel(zooModels, "vae", { size: "tiny" }).bundle;
    const unet = buildZooModel(zooModels, "unet", { size: "tiny" }).bundle;
    const pipeline: ModelBundle = {
      components: new Map([...vae.components, ["unet", unet.components.get("unet") as Model]]),
      metadata: vae.metadata,
    };
    const result = await runPassStandalone(pcaChannels, pipeline, {
      options: { k: 2, samples: 4, denoiser: "unet" },
    });
    const { latentPca } = result.result.bundle.metadata as {
      latentPca: { centered: boolean; mean: number[] };
    };
    expect(latentPca.centered).toBe(false);
    expect(latentPca.mean).toEqual([0, 0, 0, 0]);
    const parts = result.result.bundle.components;
    for (const [name, input] of [
      ["vae_decoder", 0],
      ["unet", 0],
    ] as const)
      expect(parts.get(name)?.graph.inputs[input]?.type).toMatchObject({
        shape: { dims: [expect.anything(), 2, expect.anything(), expect.anything()] },
      });
    expect(result.result.statistics?.["explained.k2"] as number).toBeGreaterThan(0.999);
  });

  it("refuses what it cannot place or calibrate, saying what to do", async () => {
    const code = async (promise: Promise<unknown>) => {
      try {
        await promise;
      } catch (error) {
        return isLatheError(error) ? `${error.code}: ${error.message}` : String(error);
      }
      return "no error";
    };
    const gmm = gmmOnSubspace();
    // A conditioned UNet alone cannot be sampled for calibration: it needs a data set.
    const unet = buildZooModel(zooModels, "unet", { size: "tiny" }).bundle;
    expect(
      await code(runPassStandalone(pcaChannels, unet, { options: { denoiser: "unet" } })),
    ).toMatch(/LATENT_DATA_INVALID: cannot draw calibration samples from the denoiser "unet"/);
    expect(
      await code(
        runPassStandalone(pcaChannels, gmm.bundle, {
          options: { denoiser: "model", data: "train", minPsnr: 40 },
          data: { train: gmm.train },
        }),
      ),
    ).toMatch(/LATENT_K_INVALID: minPsnr needs a VAE decoder/);
    // Without subspace the gmm denoiser has no input layer: its sample goes straight into the
    // per-component differences.
    const plain = gmmDiffusion.build(gmmDiffusion.presets.tiny, { seed: 0 });
    expect(
      await code(
        runPassStandalone(pcaChannels, plain, {
          options: { denoiser: "model", data: "train" },
          data: { train: [{ sample: float([4, 2], [1, 2, 3, 4, 5, 6, 7, 8]) }] },
        }),
      ),
    ).toMatch(
      /LATENT_PLACEMENT_UNCLEAR: cannot fold the basis into the denoiser: .*reads "sample" but is not a Conv or a MatMul/,
    );
  });
});
