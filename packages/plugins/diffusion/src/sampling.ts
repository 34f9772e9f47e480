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
import { conditioningFor, drawNoise, resolveSampleShape, startPoint } from "./inputs.js";
import { liftChannels, projectChannels, type ReducedSpace, reducedSpace } from "./reduced.js";
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
  /**
   * Set when the bundle diffuses in k reduced channels of its data (latent/pca-channels with
   * `denoiser`, no VAE): the samples were lifted from k to `channels` by the recorded basis.
   */
  readonly lifted?: { readonly k: number; readonly channels: number };
}

/**
 * Draws samples from a bundle: its `sampler` component in one ONNX Runtime call, or its
 * denoiser with a solver loop in TypeScript. The noise (and generated conditioning) depend on
 * `seed` only, so a sampler and its teacher see the same inputs. A bundle that diffuses in k
 * reduced channels of its data (metadata `latentPca`, uncentered, no VAE) draws the noise the
 * full-width model would draw from the same seed and projects it, z_T = U_kᵀ·x_T (standard
 * normal in k dimensions: U_k has orthonormal columns), and returns its samples lifted back,
 * x = U_k·z′: data-width samples, comparable one to one with the full model's.
 */
export async function drawSamples(
  bundle: ModelBundle,
  sessions: SessionFactory,
  request: SampleRequest,
): Promise<Samples> {
  const sampler = samplerMetadata(bundle);
  const random = createPassRandom(request.seed, "diffusion/samples", "noise");
  const reduced = sampler?.output === "image" ? undefined : reducedSpace(bundle);
  if (sampler) {
    const model = bundle.components.get("sampler") as Model;
    const lift = reduced && reducedSampling(reduced, sampler.sampleShape, "metadata.sampler");
    // Standard normal: the graph scales it to the prior itself.
    const noise = lift
      ? lift.project(drawNoise(random, request.count * lift.fullWidth), request.count)
      : drawNoise(random, request.count * width(sampler.sampleShape));
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
    const drawn = {
      values: tensor.toArray() as Float32Array,
      dims: tensor.dims,
      calls: sampler.steps,
    };
    return lift ? lift.lift(drawn) : drawn;
  }
  const spec = readDiffusionSpec(bundle);
  const model = bundle.components.get(spec.component) as Model;
  const shape = resolveSampleShape(bundle, model, spec, request.sampleShape);
  const start = startPoint(spec.noise);
  const lift =
    reduced && !request.decode ? reducedSampling(reduced, shape, spec.sampleInput) : undefined;
  // The same standard normals a sampler graph receives, scaled to the prior as it scales them.
  const noise = lift
    ? lift.project(drawNoise(random, request.count * lift.fullWidth, start), request.count)
    : drawNoise(random, request.count * width(shape), start);
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
    const out = { values: Float32Array.from(end), dims: [request.count, ...shape], calls };
    return lift ? lift.lift(out) : out;
  } finally {
    await denoiser.release();
  }
}

function width(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Noise projection and sample lift for a sample shape [k, …] of a reduced space. */
function reducedSampling(space: ReducedSpace, shape: readonly number[], where: string) {
  const [k, ...rest] = shape;
  if (k !== space.k) {
    throw new LatheError(
      "DIFFUSION_METADATA_INVALID",
      `metadata latentPca says the diffusion runs in k = ${space.k} channels, but a sample has dims [${shape.join(", ")}]`,
      {
        where,
        hint: "keep the bundle.json that latent/pca-channels wrote beside its folded denoiser",
      },
    );
  }
  const plane = width(rest);
  return {
    fullWidth: space.channels * plane,
    project: (noise: Float64Array, rows: number) => projectChannels(noise, space, rows, plane),
    lift: (samples: Samples): Samples => {
      const rows = samples.dims[0] ?? 0;
      return {
        values: liftChannels(samples.values, space, rows, plane),
        dims: [rows, space.channels, ...rest],
        calls: samples.calls,
        lifted: { k: space.k, channels: space.channels },
      };
    },
  };
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
