import {
  createPassRandom,
  type DataRecord,
  DataType,
  LatheError,
  type Model,
  type ModelBundle,
  type SessionFactory,
  Tensor,
} from "@lathe/core";
import { openDenoiser } from "./denoiser.js";
import {
  conditioningFor,
  drawNoise,
  initialScale,
  resolveSampleShape,
  startPoint,
} from "./inputs.js";
import { SAMPLER_INPUT, UNCONDITIONAL_PREFIX } from "./sampler-graph.js";
import { type Baseline, baselineSchedule, teacherGrid } from "./schedules.js";
import { solveTeacher } from "./search.js";
import { planSolver, runPlan, type Solver } from "./solvers.js";
import { readDiffusionSpec } from "./spec.js";

/** What a sampler bundle's metadata says about it (written by diffusion/distill-steps). */
export interface SamplerMetadata {
  readonly solver: Solver;
  readonly steps: number;
  readonly sampleShape: readonly number[];
  readonly output: "sample" | "image";
  readonly guidance?: number;
}

export function samplerMetadata(bundle: ModelBundle): SamplerMetadata | undefined {
  if (!bundle.components.has("sampler")) return undefined;
  const meta = (bundle.metadata as Record<string, unknown>).sampler as SamplerMetadata | undefined;
  if (!meta || !Array.isArray(meta.sampleShape)) {
    throw new LatheError(
      "DIFFUSION_METADATA_INVALID",
      "the bundle has a sampler but no `sampler` metadata",
      {
        where: "metadata.sampler",
        hint: "sampler bundles are written by diffusion/distill-steps with their metadata; keep bundle.json beside them",
      },
    );
  }
  return meta;
}

export interface SampleRequest {
  /** Samples to draw. */
  readonly count: number;
  /** Seed of the noise and of generated conditioning. */
  readonly seed: number;
  /** For a denoiser bundle: steps, solver and schedule of the loop (default: the teacher, 200 DPM-Solver++(2M) steps). */
  readonly steps?: number;
  readonly solver?: Solver;
  readonly schedule?: Baseline;
  /** Grid points of the teacher loop when `steps` is not given (default 200). */
  readonly teacherSteps?: number;
  readonly sampleShape?: readonly number[];
  /** Per-sample shapes of conditioning inputs with symbolic dims (a sequence dim defaults to 77). */
  readonly conditioningShapes?: Readonly<Record<string, readonly number[]>>;
  /** For a denoiser bundle with a `vae_decoder`: decode the latents to images (as a sampler with the decoder appended does). */
  readonly decode?: boolean;
  readonly onStep?: (done: number, total: number) => void;
}

export interface Samples {
  readonly values: Float32Array;
  readonly dims: readonly number[];
  /** Denoiser calls per sample (K for a sampler). */
  readonly calls: number;
}

/**
 * Draws samples from a bundle: its `sampler` component in one ONNX Runtime call, or its
 * denoiser with a solver loop in TypeScript. The noise (and generated conditioning) depend on
 * `seed` only, so a sampler and its teacher see the same inputs.
 */
export async function drawSamples(
  bundle: ModelBundle,
  sessions: SessionFactory,
  request: SampleRequest,
): Promise<Samples> {
  const sampler = samplerMetadata(bundle);
  const random = createPassRandom(request.seed, "diffusion/samples", "noise");
  if (sampler) {
    const model = bundle.components.get("sampler") as Model;
    const width = sampler.sampleShape.reduce((a, b) => a * b, 1);
    // Standard normal: the graph scales it to the prior itself.
    const noise = drawNoise(random, request.count * width);
    const conditioning = await samplerConditioning(model, request, sampler);
    const feeds: DataRecord = {
      ...conditioning,
      [SAMPLER_INPUT]: Tensor.fromArray(
        DataType.FLOAT,
        [request.count, ...sampler.sampleShape],
        Float32Array.from(noise),
      ),
    };
    const [out] = await sessions.run(model, [feeds]);
    const tensor = Object.values(out ?? {})[0];
    if (!tensor)
      throw new LatheError("DIFFUSION_SAMPLER_FAILED", "the sampler returned nothing", {
        where: "sampler",
      });
    request.onStep?.(sampler.steps, sampler.steps);
    return { values: tensor.toArray() as Float32Array, dims: tensor.dims, calls: sampler.steps };
  }
  const spec = readDiffusionSpec(bundle);
  const model = bundle.components.get(spec.component) as Model;
  const shape = resolveSampleShape(bundle, model, spec, request.sampleShape);
  const width = shape.reduce((a, b) => a * b, 1);
  const start = startPoint(spec.noise);
  // The same standard normals a sampler graph receives, scaled to the prior as it scales them.
  const noise = drawNoise(random, request.count * width, start);
  const conditioning = await conditioningFor(
    model,
    spec.conditioningInputs,
    request.count,
    createPassRandom(request.seed, "diffusion/samples", "conditioning"),
    request.conditioningShapes ? { shapes: request.conditioningShapes } : {},
  );
  const denoiser = await openDenoiser(sessions, model, spec, {
    batch: request.count,
    sampleShape: shape,
    conditioning,
  });
  let done = 0;
  const total = request.steps ?? request.teacherSteps ?? 200;
  const denoise: typeof denoiser.denoise = async (x, point) => {
    const out = await denoiser.denoise(x, point);
    request.onStep?.(++done, total);
    return out;
  };
  try {
    const solver = request.solver ?? "dpmpp-2m";
    let end: Float64Array;
    if (request.steps === undefined) {
      const teacher = await solveTeacher(denoise, teacherGrid(spec.noise, total), noise, solver);
      end = teacher.states[teacher.states.length - 1] as Float64Array;
    } else {
      const points = baselineSchedule(request.schedule ?? "logsnr", spec.noise, request.steps);
      const run = await runPlan(planSolver(solver, points), noise, denoise);
      end = run.states[run.states.length - 1] as Float64Array;
    }
    const calls = done;
    if (request.decode)
      return { ...(await decodeLatents(bundle, sessions, end, [request.count, ...shape])), calls };
    return { values: Float32Array.from(end), dims: [request.count, ...shape], calls };
  } finally {
    await denoiser.release();
  }
}

/** The sampler's conditioning inputs, generated as the denoiser loop generates them. */
async function samplerConditioning(
  model: Model,
  request: SampleRequest,
  sampler: SamplerMetadata,
): Promise<DataRecord> {
  // The sampler's inputs carry the denoiser's conditioning names and dims.
  const names = model.graph.inputs
    .map((v) => v.name)
    .filter((n) => n !== SAMPLER_INPUT && !n.startsWith(UNCONDITIONAL_PREFIX));
  if (names.length === 0) return {};
  const conditioning = await conditioningFor(
    model,
    names,
    request.count,
    createPassRandom(request.seed, "diffusion/samples", "conditioning"),
    request.conditioningShapes ? { shapes: request.conditioningShapes } : {},
  );
  if (sampler.guidance === undefined) return conditioning;
  const out: Record<string, Tensor> = { ...conditioning };
  for (const [name, tensor] of Object.entries(conditioning)) {
    out[`${UNCONDITIONAL_PREFIX}${name}`] = Tensor.fromArray(
      tensor.dataType,
      tensor.dims,
      new Float32Array(tensor.elementCount),
    );
  }
  return out;
}

/** Runs the bundle's `vae_decoder` on latents / scaling factor, as the sampler's appended decoder does. */
async function decodeLatents(
  bundle: ModelBundle,
  sessions: SessionFactory,
  latents: Float64Array,
  dims: readonly number[],
): Promise<Omit<Samples, "calls">> {
  const decoder = bundle.components.get("vae_decoder");
  if (!decoder) {
    throw new LatheError(
      "DIFFUSION_DECODER_MISSING",
      "the bundle has no vae_decoder to decode its latents with",
      {
        where: "bundle components",
        hint: "compare latents (a sampler without `decoder`), or build the pipeline with its decoder (zoo:unet?vae=tiny)",
      },
    );
  }
  const meta = bundle.metadata as Record<string, unknown>;
  const factor = typeof meta.scalingFactor === "number" ? meta.scalingFactor : 1;
  const input = decoder.graph.inputs[0]?.name ?? "latent_sample";
  const scaled = Float32Array.from(latents, (v) => v / factor);
  const [out] = await sessions.run(decoder, [
    { [input]: Tensor.fromArray(DataType.FLOAT, dims, scaled) },
  ]);
  const image = Object.values(out ?? {})[0];
  if (!image)
    throw new LatheError("DIFFUSION_SAMPLER_FAILED", "the decoder returned nothing", {
      where: "vae_decoder",
    });
  return { values: image.toArray() as Float32Array, dims: image.dims };
}
