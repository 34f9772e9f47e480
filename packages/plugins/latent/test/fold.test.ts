import {
  createCpuSessions,
  DataType,
  type ModelBundle,
  NameScope,
  removeDeadCode,
  replaceValue,
  runPassStandalone,
  Tensor,
} from "@lathe/core";
import { maxAbsDiff } from "@lathe/core/testing";
import { buildZooModel, zooModels } from "@lathe/plugin-zoo";
import { describe, expect, it } from "vitest";
import { pcaChannels } from "../src/index.js";

const sessions = createCpuSessions();
const vae = () => buildZooModel(zooModels, "vae", { size: "tiny" }).bundle;

function images(count: number, seed: number): Tensor {
  const values = Float32Array.from(
    { length: count * 3 * 32 * 32 },
    (_, i) => Math.sin(i * 0.37 + seed) * Math.cos(i * 0.011 * seed),
  );
  return Tensor.fromArray(DataType.FLOAT, [count, 3, 32, 32], values);
}

async function run(
  model: ModelBundle["components"] extends ReadonlyMap<string, infer M> ? M : never,
  feeds: Record<string, Tensor>,
) {
  const [out] = await sessions.run(model, [feeds]);
  const t = Object.values(out!)[0]!;
  return { values: t.toArray() as Float32Array, dims: t.dims };
}

describe("latent/pca-channels on the zoo vae (planted rank 2 of 4 channels)", () => {
  it("finds the planted redundancy and folds U_kᵀ(z − μ) into the encoder and μ + U_k·z′ into the decoder exactly", async () => {
    const original = vae();
    const result = await runPassStandalone(pcaChannels, vae(), { options: { k: 2, samples: 8 } });
    const stats = result.result.statistics!;
    expect(stats.k).toBe(2);
    expect(stats["explained.k2"] as number).toBeGreaterThan(0.999);
    expect(stats["explained.k1"] as number).toBeLessThan(0.99);
    const { mean, basis } = result.result.bundle.metadata.latentPca as {
      mean: number[];
      basis: number[][];
    };

    const x = images(2, 3);
    const z = await run(original.components.get("vae_encoder")!, { sample: x });
    const folded = await run(result.result.bundle.components.get("vae_encoder")!, { sample: x });
    expect(folded.dims).toEqual([2, 4, 4, 4]); // [mean' ‖ logvar'] with k = 2
    const plane = 16;
    const expected = new Float32Array(2 * 2 * plane);
    const reconstructed = new Float32Array(2 * 4 * plane);
    const projectedMean = new Float32Array(2 * 2 * plane);
    for (let b = 0; b < 2; b++) {
      for (let p = 0; p < plane; p++) {
        for (let i = 0; i < 2; i++) {
          let v = 0;
          for (let j = 0; j < 4; j++)
            v += basis[j]![i]! * (z.values[(b * 8 + j) * plane + p]! - mean[j]!);
          expected[(b * 2 + i) * plane + p] = v;
          projectedMean[(b * 2 + i) * plane + p] = folded.values[(b * 4 + i) * plane + p]!;
        }
        for (let j = 0; j < 4; j++) {
          let v = mean[j]!;
          for (let i = 0; i < 2; i++) v += basis[j]![i]! * expected[(b * 2 + i) * plane + p]!;
          reconstructed[(b * 4 + j) * plane + p] = v;
        }
      }
    }
    expect(maxAbsDiff(projectedMean, expected)).toBeLessThan(1e-4);

    const decodedFolded = await run(result.result.bundle.components.get("vae_decoder")!, {
      latent_sample: Tensor.fromArray(DataType.FLOAT, [2, 2, 4, 4], projectedMean),
    });
    const decodedReference = await run(original.components.get("vae_decoder")!, {
      latent_sample: Tensor.fromArray(DataType.FLOAT, [2, 4, 4, 4], reconstructed),
    });
    expect(maxAbsDiff(decodedFolded.values, decodedReference.values)).toBeLessThan(1e-4);
  });

  it("with k = C the encode–decode pipeline is unchanged, at another resolution too", async () => {
    const original = vae();
    const result = await runPassStandalone(pcaChannels, vae(), { options: { k: 4, samples: 4 } });
    for (const side of [32, 48]) {
      const x = Tensor.fromArray(
        DataType.FLOAT,
        [1, 3, side, side],
        Float32Array.from({ length: 3 * side * side }, (_, i) => Math.sin(i * 0.1)),
      );
      const z = await run(original.components.get("vae_encoder")!, { sample: x });
      const zf = await run(result.result.bundle.components.get("vae_encoder")!, { sample: x });
      const mean = (t: { values: Float32Array; dims: readonly number[] }) =>
        t.values.slice(0, 4 * (t.dims[2]! * t.dims[3]!));
      const latentDims = [1, 4, z.dims[2]!, z.dims[3]!];
      const a = await run(original.components.get("vae_decoder")!, {
        latent_sample: Tensor.fromArray(DataType.FLOAT, latentDims, mean(z)),
      });
      const b = await run(result.result.bundle.components.get("vae_decoder")!, {
        latent_sample: Tensor.fromArray(DataType.FLOAT, latentDims, mean(zf)),
      });
      expect(maxAbsDiff(a.values, b.values)).toBeLessThan(1e-4);
    }
  });

  it("chooses the smallest k that keeps the explained variance asked for, and reports PSNR per k", async () => {
    const result = await runPassStandalone(pcaChannels, vae(), {
      options: { explainedVariance: 0.999, samples: 4 },
    });
    const stats = result.result.statistics!;
    expect(stats.k).toBe(2);
    expect(stats["psnr.k2"] as number).toBeGreaterThan(40);
    expect(stats["psnr.k1"] as number).toBeLessThan(stats["psnr.k2"] as number);
    expect(result.logs.some((l) => l.level === "warn" && /generated images/.test(l.message))).toBe(
      true,
    );
  });

  it("refuses a bundle without a VAE, naming the components it has", async () => {
    const gpt2 = buildZooModel(zooModels, "gpt2", { size: "tiny" }).bundle;
    const error = (await runPassStandalone(pcaChannels, gpt2).catch((e: unknown) => e)) as {
      code: string;
      hint: string;
    };
    expect(error.code).toBe("LATENT_COMPONENT_MISSING");
    expect(error.hint).toMatch(/the bundle has model/);
  });
});

describe("a VAE without quant convs (SD3/FLUX style)", () => {
  it("gets 1×1 Convs inserted, with the same exactness", async () => {
    const strip = () => {
      const bundle = vae();
      for (const name of ["vae_encoder", "vae_decoder"]) {
        const graph = bundle.components.get(name)!.graph;
        const conv = graph.nodes().find((n) => /quant_conv/.test(n.name))!;
        const names = new NameScope(graph);
        replaceValue(conv.outputs[0]!, conv.inputs[0]!, graph, names);
        removeDeadCode(graph);
      }
      return bundle;
    };
    const original = strip();
    expect(
      original.components
        .get("vae_encoder")!
        .graph.nodes()
        .some((n) => /quant_conv/.test(n.name)),
    ).toBe(false);
    const result = await runPassStandalone(pcaChannels, strip(), { options: { k: 4, samples: 4 } });
    expect(result.logs.some((l) => /no quant_conv: a 1×1 Conv is added/.test(l.message))).toBe(
      true,
    );
    const x = images(1, 5);
    const z = await run(original.components.get("vae_encoder")!, { sample: x });
    const zf = await run(result.result.bundle.components.get("vae_encoder")!, { sample: x });
    const a = await run(original.components.get("vae_decoder")!, {
      latent_sample: Tensor.fromArray(DataType.FLOAT, [1, 4, 4, 4], z.values.slice(0, 64)),
    });
    const b = await run(result.result.bundle.components.get("vae_decoder")!, {
      latent_sample: Tensor.fromArray(DataType.FLOAT, [1, 4, 4, 4], zf.values.slice(0, 64)),
    });
    expect(maxAbsDiff(a.values, b.values)).toBeLessThan(1e-4);
  });
});
