import {
  definePass,
  LatheError,
  type Model,
  type ModelBundle,
  type PassStatistics,
  Tensor,
} from "@lathe/core";
import { openDenoiser } from "./denoiser.js";
import { type DistillResult, distillSchedule, METHODS, type Method } from "./distill.js";
import { conditioningFor, drawNoise, resolveSampleShape, startPoint } from "./inputs.js";
import { sigmaHat } from "./noise.js";
import { buildSamplerGraph } from "./sampler-graph.js";
import { BASELINES, type Baseline } from "./schedules.js";
import type { Teacher } from "./search.js";
import { planSolver, SOLVERS, type Solver } from "./solvers.js";
import { readDiffusionSpec } from "./spec.js";

/** Options of `diffusion/distill-steps`. */
export interface DistillStepsOptions {
  /** Denoiser calls of the learned sampler (K). */
  steps: number;
  /** The student's solver. */
  solver: Solver;
  /** gits, oss, refine, or best: all three, keeping the lowest validation error. */
  method: Method;
  /** Points of the teacher's fine grid (N). */
  teacherSteps: number;
  teacherSolver: Solver;
  /** Calibration noises (M), split into training and validation rows. */
  samples: number;
  validationFraction: number;
  /** Fit per-step scalars on the solver's update (kept only when they lower the validation error). */
  coefficients: boolean;
  /** Solver runs the continuous refinement may spend. */
  refineRuns: number;
  /** Refinement stops after this many sweeps without a better validation error. */
  patience: number;
  /** GITS's weight on later steps' one-step costs. */
  gitsWeight: number;
  /** Baseline schedules measured beside the learned one. */
  baselines: Baseline[];
  /** Classifier-free guidance scale; the data set (or generated) conditioning is the conditional half, zeros the unconditional. */
  guidance?: number;
  /** A recipe data set holding the conditioning inputs (text embeddings). */
  data?: string;
  /** One sample's dims without the batch, where the model does not say them. */
  sampleShape?: number[];
  /** Per-sample shapes of conditioning inputs with symbolic dims. */
  conditioningShapes?: Record<string, number[]>;
  /** The `diffusion` metadata (prediction, schedule) where the bundle has none. */
  schedule?: Record<string, unknown>;
  /** Append this component (a VAE decoder) to the sampler, so the output is an image. */
  decoder?: string;
}

const solverEnum = { enum: [...SOLVERS] };

export const distillSteps = definePass<DistillStepsOptions>({
  id: "diffusion/distill-steps",
  summary:
    "Learns a K-step sampling schedule from a many-step teacher and exports the sampler as one ONNX graph.",
  description:
    "Solves a teacher (DPM-Solver++(2M) on a fine grid) from calibration noises, learns which K time steps (and optionally per-step coefficients) land closest to it — GITS and OSS dynamic programming, continuous refinement — and writes a bundle whose `sampler` component runs all K steps in one ONNX Runtime session.",
  options: {
    type: "object",
    additionalProperties: false,
    properties: {
      steps: {
        type: "integer",
        minimum: 1,
        maximum: 100,
        default: 8,
        description: "Denoiser calls of the learned sampler (K).",
      },
      solver: {
        ...solverEnum,
        default: "dpmpp-2m",
        description: "The student's solver: ddim, dpmpp-2m (DPM-Solver++(2M)) or ipndm.",
      },
      method: {
        enum: [...METHODS],
        default: "best",
        description:
          "gits, oss, refine, or best: run all three and keep the lowest validation error.",
      },
      teacherSteps: {
        type: "integer",
        minimum: 10,
        maximum: 2000,
        default: 200,
        description: "Points of the teacher's fine grid (N), uniform in log-SNR.",
      },
      teacherSolver: { ...solverEnum, default: "dpmpp-2m", description: "The teacher's solver." },
      samples: {
        type: "integer",
        minimum: 2,
        default: 64,
        description: "Calibration noises (M), split into training and validation rows.",
      },
      validationFraction: {
        type: "number",
        exclusiveMinimum: 0,
        exclusiveMaximum: 1,
        default: 0.5,
        description: "Share of the noises held out for validation.",
      },
      coefficients: {
        type: "boolean",
        default: false,
        description:
          "Also fit per-step scalars on each step's update (closed-form least squares); kept only if they lower the validation error.",
      },
      refineRuns: {
        type: "integer",
        minimum: 1,
        default: 300,
        description: "Solver runs the continuous refinement may spend.",
      },
      patience: {
        type: "integer",
        minimum: 1,
        default: 4,
        description: "Refinement stops after this many sweeps without a better validation error.",
      },
      gitsWeight: {
        type: "number",
        minimum: 1,
        default: 1.15,
        description: "GITS's weight on each later step's one-step cost.",
      },
      baselines: {
        type: "array",
        items: { enum: [...BASELINES] },
        default: [...BASELINES],
        description:
          "Hand-designed schedules measured beside the learned one (uniform-t, edm, logsnr, kl-optimal).",
      },
      guidance: {
        type: "number",
        minimum: 0,
        description:
          "Classifier-free guidance scale: the model runs on [unconditional; conditional] halves of one batch.",
      },
      data: {
        type: "string",
        description:
          "A recipe data set holding the denoiser's conditioning inputs (for example encoder_hidden_states).",
      },
      sampleShape: {
        type: "array",
        items: { type: "integer", minimum: 1 },
        description:
          "One sample's dims without the batch, where the model does not say them (e.g. [4, 64, 64]).",
      },
      conditioningShapes: {
        type: "object",
        additionalProperties: { type: "array", items: { type: "integer", minimum: 1 } },
        description:
          "Per-sample shapes of conditioning inputs whose dims are symbolic (a sequence dim defaults to 77).",
      },
      schedule: {
        type: "object",
        description:
          "The `diffusion` metadata ({ prediction, schedule }) where the bundle has none.",
      },
      decoder: {
        type: "string",
        description:
          "A component of the bundle (a VAE decoder) to append to the sampler, so that it outputs images.",
      },
    },
  },
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
