import {
  definePass,
  LatheError,
  type Model,
  type ModelBundle,
  type PassStatistics,
  Tensor,
} from "@lathe/core";
import { openDenoiser } from "./denoiser.js";
import { type DistillResult, distillSchedule, type Method } from "./distill.js";
import { distillStepsOptionsSchema } from "./generated/options.js";
import { conditioningFor, drawNoise, resolveSampleShape, startPoint } from "./inputs.js";
import { sigmaHat } from "./noise.js";
import { buildSamplerGraph } from "./sampler-graph.js";
import type { Baseline } from "./schedules.js";
import type { Teacher } from "./search.js";
import { planSolver, type Solver } from "./solvers.js";
import { type DiffusionMetadata, readDiffusionSpec } from "./spec.js";

/** Options of `diffusion/distill-steps`. */
export interface DistillStepsOptions {
  /**
   * Denoiser calls of the learned sampler (K).
   * @integer
   * @minimum 1
   * @maximum 100
   * @default 8
   */
  steps: number;
  /**
   * The student's solver: ddim, dpmpp-2m (DPM-Solver++(2M)) or ipndm.
   * @default "dpmpp-2m"
   */
  solver: Solver;
  /**
   * gits, oss, refine, or best: run all three and keep the lowest validation error.
   * @default "best"
   */
  method: Method;
  /**
   * Points of the teacher's fine grid (N), uniform in log-SNR.
   * @integer
   * @minimum 10
   * @maximum 2000
   * @default 200
   */
  teacherSteps: number;
  /**
   * The teacher's solver.
   * @default "dpmpp-2m"
   */
  teacherSolver: Solver;
  /**
   * Calibration noises (M), split into training and validation rows.
   * @integer
   * @minimum 2
   * @default 64
   */
  samples: number;
  /**
   * Share of the noises held out for validation.
   * @exclusiveMinimum 0
   * @exclusiveMaximum 1
   * @default 0.5
   */
  validationFraction: number;
  /**
   * Also fit per-step scalars on each step's update (closed-form least squares); kept only if
   * they lower the validation error.
   * @default false
   */
  coefficients: boolean;
  /**
   * Solver runs the continuous refinement may spend.
   * @integer
   * @minimum 1
   * @default 300
   */
  refineRuns: number;
  /**
   * Refinement stops after this many sweeps that lowered the training error but not the
   * validation error.
   * @integer
   * @minimum 1
   * @default 4
   */
  patience: number;
  /**
   * GITS's weight on each later step's one-step cost.
   * @minimum 1
   * @default 1.15
   */
  gitsWeight: number;
  /**
   * Hand-designed schedules measured beside the learned one (uniform-t, edm, logsnr,
   * kl-optimal).
   * @default ["uniform-t", "edm", "logsnr", "kl-optimal"]
   */
  baselines: Baseline[];
  /**
   * Classifier-free guidance scale: the model runs on [unconditional; conditional] halves of one
   * batch (the unconditional half: zeros).
   * @minimum 0
   */
  guidance?: number;
  /** A recipe data set holding the denoiser's conditioning inputs (for example encoder_hidden_states). */
  data?: string;
  /**
   * One sample's dims without the batch, where the model does not say them (e.g. [4, 64, 64]).
   * @minItems 1
   */
  sampleShape?: Dims;
  /**
   * Per-sample shapes of conditioning inputs whose dims are symbolic (a sequence dim defaults to
   * 77).
   */
  conditioningShapes?: Record<string, Dims>;
  /** The `diffusion` metadata ({ prediction, schedule }) where the bundle has none. */
  schedule?: DiffusionMetadata;
  /** A component of the bundle (a VAE decoder) to append to the sampler, so that it outputs images. */
  decoder?: string;
}

/** Sizes of a sample or conditioning input, without the batch. */
export type Dims = Size[];

/**
 * One size.
 * @integer
 * @minimum 1
 */
export type Size = number;

export const distillSteps = definePass<DistillStepsOptions>({
  id: "diffusion/distill-steps",
  summary:
    "Learns a K-step sampling schedule from a many-step teacher and exports the sampler as one ONNX graph.",
  description:
    "Solves a teacher (DPM-Solver++(2M) on a fine grid) from calibration noises, learns which K time steps (and optionally per-step coefficients) land closest to it — GITS and OSS dynamic programming, continuous refinement — and writes a bundle whose `sampler` component runs all K steps in one ONNX Runtime session.",
  options: distillStepsOptionsSchema,
  async run(bundle, context) {
    const options = context.options;
    const spec = readDiffusionSpec(bundle, options.schedule);
    const model = bundle.components.get(spec.component) as Model;
    const sampleShape = resolveSampleShape(bundle, model, spec, options.sampleShape);
    const width = sampleShape.reduce((a, b) => a * b, 1);
    const start = startPoint(spec.noise);
    const noises = drawNoise(context.random, options.samples * width, start);
    const conditioning = await conditioningFor(
      model,
      spec.conditioningInputs,
      options.samples,
      context.random,
      {
        ...(options.data ? { data: context.data(options.data) } : {}),
        ...(options.conditioningShapes ? { shapes: options.conditioningShapes } : {}),
      },
    );
    const guidance =
      options.guidance === undefined
        ? undefined
        : { scale: options.guidance, unconditional: zerosLike(conditioning) };
    if (guidance)
      context.logger.info(`guidance ${options.guidance}: the unconditional half is zeros`);
    const denoiser = await openDenoiser(context.sessions, model, spec, {
      batch: options.samples,
      sampleShape,
      conditioning,
      ...(guidance ? { guidance } : {}),
    });
    // One unit per stage (teacher, each baseline, each search, coefficients); the label counts calls.
    const stages =
      1 +
      options.baselines.length +
      (options.method === "best" ? 3 : 1) +
      (options.coefficients ? 1 : 0);
    context.progress.start(stages, "teacher");
    let stage = "teacher";
    let begun = false;
    const denoise: typeof denoiser.denoise = (x, point) => {
      context.progress.advance(0, `${stage} · ${denoiser.calls() + 1} denoiser calls`);
      return denoiser.denoise(x, point);
    };
    let result: DistillResult;
    try {
      result = await distillSchedule(
        spec.noise,
        denoise,
        noises,
        width,
        { ...options, steps: options.steps },
        {
          log: (m) => context.logger.info(m),
          stage: (label) => {
            const next = !/^(oss step|refine sweep)/.test(label);
            if (next && begun) context.progress.advance(1, label);
            begun = true;
            stage = label;
          },
          signal: context.signal,
          teacher: (compute) =>
            cachedTeacher(
              model,
              [
                options.teacherSteps,
                options.teacherSolver,
                noises.length,
                noises[0],
                noises[noises.length - 1],
                options.guidance ?? "",
              ].join("|"),
              compute,
            ),
        },
      );
    } finally {
      await denoiser.release();
    }
    context.logger.info(
      `learned ${options.steps}-step schedule (${result.method}): t = [${result.points
        .slice(0, -1)
        .map((p) => p.t)
        .join(
          ", ",
        )}], endpoint RMSE ${result.validation.toPrecision(4)} (${denoiser.calls()} denoiser calls)`,
    );
    const plan = planSolver(options.solver, result.points);
    const decoder = options.decoder ? decoderOf(bundle, options.decoder) : undefined;
    const sampler = buildSamplerGraph(model, spec, plan, {
      ...(result.coefficients ? { coefficients: result.coefficients } : {}),
      ...(options.guidance !== undefined ? { guidance: options.guidance } : {}),
      ...(decoder ? { decoder } : {}),
    });
    const out: ModelBundle = {
      components: new Map([["sampler", sampler]]),
      metadata: {
        ...bundle.metadata,
        diffusion: spec.description,
        sampler: {
          solver: options.solver,
          steps: options.steps,
          method: result.method,
          timesteps: result.points.slice(0, -1).map((p) => p.t),
          sigmas: result.points.map(sigmaHat),
          ...(result.coefficients ? { coefficients: result.coefficients } : {}),
          ...(options.guidance !== undefined ? { guidance: options.guidance } : {}),
          sampleShape,
          output: decoder ? "image" : "sample",
          teacher: {
            solver: options.teacherSolver,
            steps: options.teacherSteps,
            samples: options.samples,
          },
          endpointRmse: result.validation,
          baselines: Object.fromEntries(
            Object.entries(result.baselines).map(([k, c]) => [k, c?.validation]),
          ),
        },
      },
    };
    return { bundle: out, modified: true, statistics: statistics(result) };
  },
});

function statistics(result: DistillResult): PassStatistics {
  const stats: PassStatistics = {
    method: result.method,
    "endpoint-rmse": round(result.validation),
    timesteps: result.points
      .slice(0, -1)
      .map((p) => p.t)
      .join(","),
  };
  for (const [kind, c] of Object.entries(result.baselines))
    if (c) stats[`baseline.${kind}`] = round(c.validation);
  for (const [kind, c] of Object.entries(result.searches))
    if (c) stats[`search.${kind}`] = round(c.validation);
  if (result.withCoefficients)
    stats["with-coefficients"] = round(result.withCoefficients.validation);
  const best = Math.min(...Object.values(result.baselines).map((c) => c?.validation ?? Infinity));
  if (Number.isFinite(best) && result.validation > 0)
    stats["gain-vs-best-baseline"] = round(best / result.validation);
  return stats;
}

function round(value: number): number {
  return Number(value.toPrecision(4));
}

const teachers = new WeakMap<Model, Map<string, Promise<Teacher>>>();

/** Branches of one recipe (K = 4, 6, 8) share the teacher they would each solve again. */
function cachedTeacher(
  model: Model,
  key: string,
  compute: () => Promise<Teacher>,
): Promise<Teacher> {
  const byKey = teachers.get(model) ?? new Map<string, Promise<Teacher>>();
  teachers.set(model, byKey);
  let teacher = byKey.get(key);
  if (!teacher) {
    teacher = compute();
    byKey.set(key, teacher);
    teacher.catch(() => byKey.delete(key));
  }
  return teacher;
}

function decoderOf(bundle: ModelBundle, name: string): { model: Model; scalingFactor: number } {
  const model = bundle.components.get(name);
  if (!model) {
    throw new LatheError(
      "DIFFUSION_DECODER_MISSING",
      `the bundle has no component "${name}" to append`,
      {
        where: "options.decoder",
        hint: `the bundle has ${[...bundle.components.keys()].join(", ")}`,
      },
    );
  }
  const meta = bundle.metadata as Record<string, unknown>;
  const vae = (meta.vaeConfig ?? {}) as Record<string, unknown>;
  const factor = typeof meta.scalingFactor === "number" ? meta.scalingFactor : vae.scaling_factor;
  return { model, scalingFactor: typeof factor === "number" ? factor : 1 };
}

function zerosLike(record: Readonly<Record<string, Tensor>>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, tensor] of Object.entries(record)) {
    out[name] = Tensor.fromArray(
      tensor.dataType,
      tensor.dims,
      new Float32Array(tensor.elementCount),
    );
  }
  return out;
}
