import { defineMetric, LatheError, type ModelBundle } from "@lathe/core";
import {
  type GaussianMixture,
  meanLogLikelihood,
  readGmmMetadata,
  slicedWasserstein,
  toMixtureCoordinates,
} from "@lathe/plugin-zoo";
import { gmmQualityOptionsSchema, trajectoryErrorOptionsSchema } from "./generated/options.js";
import type { Dims } from "./pass.js";
import { drawSamples, type Samples, samplerMetadata } from "./sampling.js";
import type { Solver } from "./solvers.js";

export interface TrajectoryErrorOptions {
  /**
   * Held-out noises.
   * @integer
   * @minimum 1
   * @default 32
   */
  samples: number;
  /**
   * The teacher's solver on the reference denoiser.
   * @default "dpmpp-2m"
   */
  teacherSolver: Solver;
  /**
   * Points of the teacher's grid (uniform in log-SNR).
   * @integer
   * @minimum 10
   * @default 200
   */
  teacherSteps: number;
  /**
   * Per-sample shapes of conditioning inputs whose dims are symbolic (a sequence dim defaults to
   * 77).
   */
  conditioningShapes?: Record<string, Dims>;
}

/**
 * `diffusion/trajectory-error`: endpoint RMSE of the candidate's samples against the teacher's
 * (`teacherSteps` steps on the reference denoiser) from the same held-out noises. A sampler bundle runs
 * its ONNX sampler; a denoiser bundle (the reference, or a quantized denoiser) runs the teacher.
 */
export const trajectoryErrorMetric = defineMetric<TrajectoryErrorOptions>({
  id: "diffusion/trajectory-error",
  summary:
    "Endpoint RMSE of a (few-step) sampler against the many-step teacher, on held-out noises.",
  options: trajectoryErrorOptionsSchema,
  values: { rmse: "lower", "relative-rmse": "lower" },
  deterministic: true,
  async measure(candidate, context) {
    const { samples, teacherSolver, teacherSteps, conditioningShapes } = context.options;
    const seed = context.seed + 7919; // held out: not the noises distill-steps trained on
    // A sampler with the decoder appended outputs images: compare with the teacher's, decoded.
    const decode = samplerMetadata(candidate)?.output === "image";
    const request = {
      count: samples,
      seed,
      solver: teacherSolver,
      teacherSteps,
      ...(conditioningShapes ? { conditioningShapes } : {}),
    };
    const teacher = await context.shared(
      `diffusion/teacher:${JSON.stringify(request)}:${decode}`,
      () => drawSamples(context.reference, context.sessions, { ...request, decode }),
    );
    const ours = await drawSamples(candidate, context.sessions, request);
    if (ours.values.length !== teacher.values.length) {
      throw new LatheError(
        "DIFFUSION_METRIC_MISMATCH",
        `the candidate's samples have dims [${ours.dims.join(", ")}] but the teacher's [${teacher.dims.join(", ")}]`,
        {
          where: "diffusion/trajectory-error",
          hint: "the sampler and the reference must produce the same thing: latents, or images through the reference's vae_decoder",
        },
      );
    }
    let error = 0;
    let norm = 0;
    for (let i = 0; i < ours.values.length; i++) {
      error += ((ours.values[i] ?? 0) - (teacher.values[i] ?? 0)) ** 2;
      norm += (teacher.values[i] ?? 0) ** 2;
    }
    return {
      rmse: Math.sqrt(error / ours.values.length),
      "relative-rmse": Math.sqrt(error / Math.max(norm, 1e-30)),
    };
  },
});

export interface GmmQualityOptions {
  /**
   * Samples drawn (more gives a tighter sliced Wasserstein).
   * @integer
   * @minimum 16
   * @default 512
   */
  samples: number;
}

/**
 * `diffusion/gmm-quality`: exact sample quality for the zoo's gmm-diffusion model — sliced
 * Wasserstein to the true mixture, mean log-likelihood, and mode coverage (total variation
 * between the share of samples each component claims and its weight).
 */
export const gmmQualityMetric = defineMetric<GmmQualityOptions>({
  id: "diffusion/gmm-quality",
  summary:
    "Sample quality of a gmm-diffusion sampler against its known mixture: sliced Wasserstein, log-likelihood, mode coverage.",
  options: gmmQualityOptionsSchema,
  values: {
    "sliced-wasserstein": "lower",
    "log-likelihood": "higher",
    "mode-coverage-tv": "lower",
  },
  deterministic: true,
  async measure(candidate, context) {
    const mixture = readGmmMetadata(mixtureBundle(candidate, context.reference)).mixture;
    const drawn = await drawSamples(candidate, context.sessions, {
      count: context.options.samples,
      seed: context.seed + 104729,
    });
    return gmmQuality(mixture, checkWidth(drawn, mixture.dim));
  },
});

/**
 * Samples must have the mixture's width: drawSamples already lifts a bundle that diffuses in k
 * reduced dimensions (latent/pca-channels with `denoiser`) back to the data.
 */
function checkWidth(samples: Samples, dim: number): Samples {
  const width = samples.dims.slice(1).reduce((a, b) => a * b, 1);
  if (width === dim) return samples;
  throw new LatheError(
    "DIFFUSION_METRIC_MISMATCH",
    `the candidate's samples have ${width} values each but the mixture has ${dim} dimensions`,
    {
      where: "diffusion/gmm-quality",
      hint: "a reduced-space bundle must carry latent/pca-channels' uncentered basis (metadata latentPca) to be lifted back",
    },
  );
}

function mixtureBundle(candidate: ModelBundle, reference: ModelBundle): ModelBundle {
  return (candidate.metadata as Record<string, unknown>).mixture ? candidate : reference;
}

export function gmmQuality(mixture: GaussianMixture, samples: Samples): Record<string, number> {
  return {
    "sliced-wasserstein": slicedWasserstein(mixture, samples.values),
    "log-likelihood": meanLogLikelihood(mixture, samples.values),
    "mode-coverage-tv": modeCoverage(mixture, samples.values),
  };
}

/**
 * Total variation between the components' shares of the samples (by responsibility) and π. Data
 * on a subspace is scored in the mixture's coordinates, on the coordinates that carry it.
 */
export function modeCoverage(mixture: GaussianMixture, samples: ArrayLike<number>): number {
  const { dim, weights, means, variances } = mixture;
  const points = toMixtureCoordinates(mixture, samples);
  const count = Math.floor(samples.length / dim);
  const hits = new Array<number>(weights.length).fill(0);
  for (let i = 0; i < count; i++) {
    let best = 0;
    let bestScore = -Infinity;
    weights.forEach((w, k) => {
      let score = Math.log(w);
      for (let j = 0; j < dim; j++) {
        const v = variances[k]?.[j] ?? 1;
        if (v === 0) continue;
        score -= 0.5 * (((points[i * dim + j] ?? 0) - (means[k]?.[j] ?? 0)) ** 2 / v + Math.log(v));
      }
      if (score > bestScore) {
        bestScore = score;
        best = k;
      }
    });
    hits[best] = (hits[best] ?? 0) + 1;
  }
  return 0.5 * weights.reduce((sum, w, k) => sum + Math.abs((hits[k] ?? 0) / count - w), 0);
}

export { samplerMetadata };
