import { createCpuSessions, DataType, type Model, type ModelBundle, Tensor } from "@lathe/core";
import { maxAbsDiff } from "@lathe/core/testing";
import { buildZooModel, zooModels } from "@lathe/plugin-zoo";
import { describe, expect, it } from "vitest";
import {
  baselineSchedule,
  buildSamplerGraph,
  conditioningFor,
  openDenoiser,
  planSolver,
  readDiffusionSpec,
  runPlan,
  SAMPLER_INPUT,
  SOLVERS,
} from "../src/index.js";
import { normals } from "./gaussian.js";

const sessions = createCpuSessions();

async function loop(
  bundle: ModelBundle,
  solver: (typeof SOLVERS)[number],
  steps: number,
  rows: number,
  shape: number[],
  options: { coefficients?: number[]; guidance?: number } = {},
) {
  const spec = readDiffusionSpec(bundle);
  const model = bundle.components.get(spec.component) as Model;
  const width = shape.reduce((a, b) => a * b, 1);
  const noise = normals(rows * width, 7);
  const random = {
    normal: (() => {
      const n = normals(100_000, 3);
      let i = 0;
      return () => n[i++ % n.length]!;
    })(),
    uniform: () => 0.5,
    nextUint32: () => 0,
  };
  const conditioning = await conditioningFor(model, spec.conditioningInputs, rows, random, {
    shapes: { encoder_hidden_states: [5, 32] },
  });
  const unconditional = Object.fromEntries(
    Object.entries(conditioning).map(([k, t]) => [
      k,
      Tensor.fromArray(t.dataType, t.dims, new Float32Array(t.elementCount)),
    ]),
  );
  const denoiser = await openDenoiser(sessions, model, spec, {
    batch: rows,
    sampleShape: shape,
    conditioning,
    ...(options.guidance !== undefined
      ? { guidance: { scale: options.guidance, unconditional } }
      : {}),
  });
  const plan = planSolver(solver, baselineSchedule("logsnr", spec.noise, steps));
  const run = await runPlan(plan, noise, denoiser.denoise, options.coefficients);
  await denoiser.release();
  const sampler = buildSamplerGraph(model, spec, plan, options);
  const feeds = {
    ...conditioning,
    ...(options.guidance !== undefined
      ? Object.fromEntries(Object.entries(unconditional).map(([k, t]) => [`uncond_${k}`, t]))
      : {}),
    [SAMPLER_INPUT]: Tensor.fromArray(DataType.FLOAT, [rows, ...shape], Float32Array.from(noise)),
  };
  const [out] = await sessions.run(sampler, [feeds]);
  return {
    loop: run.states[steps] as Float64Array,
    graph: out!.sample!.toArray() as Float32Array,
    sampler,
    model,
  };
}

describe("the ONNX sampler runs what the TypeScript loop runs", () => {
  const gmm = buildZooModel(zooModels, "gmm-diffusion", { size: "tiny" }).bundle;

  it.each(SOLVERS)("%s on gmm-diffusion, 6 steps", async (solver) => {
    const { loop: expected, graph } = await loop(gmm, solver, 6, 16, [2]);
    expect(maxAbsDiff(graph, expected)).toBeLessThan(1e-4);
  });

  it("with learned coefficients", async () => {
    const { loop: expected, graph } = await loop(gmm, "dpmpp-2m", 4, 8, [2], {
      coefficients: [1.01, 0.97, 1.05, 0.99],
    });
    expect(maxAbsDiff(graph, expected)).toBeLessThan(1e-4);
  });

  it("stores the denoiser's weights once, whatever K", async () => {
    const { sampler, model } = await loop(gmm, "ddim", 8, 2, [2]);
    for (const name of model.graph.initializers.keys())
      expect(sampler.graph.initializers.has(name)).toBe(true);
    const weights = (m: Model) =>
      [...m.graph.initializers.values()].reduce(
        (n, v) => n + (v.constValue instanceof Tensor ? v.constValue.elementCount : 0),
        0,
      );
    // The solver's constants add a few scalars per step; the weights are not copied.
    expect(weights(sampler) - weights(model)).toBeLessThan(200);
  });

  const unet = buildZooModel(zooModels, "unet", { size: "tiny" }).bundle;
  it("dpmpp-2m on the zoo unet with text conditioning, with and without guidance", async () => {
    const solver = "dpmpp-2m";
    const plain = await loop(unet, solver, 3, 2, [4, 8, 8]);
    expect(maxAbsDiff(plain.graph, plain.loop)).toBeLessThan(1e-4);
    const guided = await loop(unet, solver, 3, 2, [4, 8, 8], { guidance: 5 });
    expect(maxAbsDiff(guided.graph, guided.loop)).toBeLessThan(1e-4);
    expect(maxAbsDiff(guided.graph, plain.graph)).toBeGreaterThan(1e-3);
  });
});
