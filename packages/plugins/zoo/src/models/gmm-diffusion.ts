import { errors, SeededRandom, singleModelBundle } from "@lathe/core";
import { type ConfigKey, defineZooModel } from "../zoo-model.js";
import { buildGmmDenoiser, GMM_EXPORTER, schedulerConfig } from "./gmm-graph.js";
import type { GmmMetadata } from "./gmm-metadata.js";
import { COVARIANCES, type Covariance, drawMixture, drawSubspaceMixture } from "./gmm-mixture.js";
import { BETA_SCHEDULES, type BetaSchedule, noiseSchedule } from "./gmm-schedule.js";

export type GmmDiffusionConfig = {
  dim: number;
  components: number;
  /** diffusers `num_train_timesteps`. */
  steps: number;
  /** diffusers `beta_schedule`. */
  schedule: BetaSchedule;
  covariance: Covariance;
  /** 0: data in all of ℝ^dim; r (1 ≤ r < dim): data on a random r-dimensional subspace. */
  subspace: number;
};

const configKeys: Record<keyof GmmDiffusionConfig, ConfigKey> = {
  dim: { type: "integer", minimum: 1, description: "data dimension d (the sample is [batch, d])" },
  components: { type: "integer", minimum: 1, description: "mixture components K" },
  steps: {
    type: "integer",
    minimum: 2,
    description: "training timesteps T (num_train_timesteps): rows of the alphas_cumprod table",
  },
  schedule: {
    type: "string",
    enum: BETA_SCHEDULES,
    description:
      "beta_schedule: linear (DDPM, 1e-4 to 0.02), scaled_linear (Stable Diffusion), squaredcos_cap_v2 (cosine)",
  },
  covariance: {
    type: "string",
    enum: COVARIANCES,
    description: "component covariances: diagonal diag(s_k²) or isotropic s_k²·I",
  },
  subspace: {
    type: "integer",
    minimum: 0,
    description:
      "0: the data fills all dim dimensions; r (1 ≤ r < dim): the data lies on a random r-dimensional subspace through the origin, and the denoiser gains input/output layers (proj_in, proj_out) holding the rotation onto it",
  },
};

const common = { steps: 1000, schedule: "linear", covariance: "diagonal", subspace: 0 } as const;

/**
 * A diffusion model whose denoiser is the exact ε-prediction for a known Gaussian mixture, so
 * that sample quality can be measured against the true distribution. The mixture is drawn from
 * the seed; the bundle's metadata carries it and the noise schedule (`readGmmMetadata`).
 */
export const gmmDiffusion = defineZooModel<GmmDiffusionConfig>({
  name: "gmm-diffusion",
  summary:
    "exact ε-prediction denoiser of a known Gaussian mixture (VP schedule), the reference for step distillation",
  exporter: GMM_EXPORTER,
  configKeys,
  presets: {
    tiny: { dim: 2, components: 3, ...common },
    d16: { dim: 16, components: 8, ...common },
    d64: { dim: 64, components: 16, ...common },
  },
  defaultPreset: "d16",
  build(config, { seed }) {
    checkConfig(config);
    const schedule = noiseSchedule(config.schedule, config.steps);
    const rng = new SeededRandom(seed);
    const { dim, components, covariance, subspace } = config;
    const mixture =
      subspace === 0
        ? drawMixture(dim, components, covariance, rng)
        : drawSubspaceMixture(dim, subspace, components, covariance, rng);
    const metadata: GmmMetadata & Record<string, unknown> = {
      architecture: "GaussianMixtureDenoiser",
      config: { ...config },
      scheduler: schedulerConfig(schedule),
      schedule,
      mixture,
    };
    return singleModelBundle(buildGmmDenoiser(mixture, schedule), metadata);
  },
});

function checkConfig(config: GmmDiffusionConfig): void {
  for (const [key, spec] of Object.entries(configKeys)) {
    const value = (config as Record<string, unknown>)[key];
    if (spec.enum) {
      if (typeof value !== "string" || !spec.enum.includes(value))
        invalid(key, `must be one of ${spec.enum.join(", ")}, got ${String(value)}`);
      continue;
    }
    if (typeof value !== "number" || !Number.isInteger(value))
      invalid(key, `must be an integer, got ${String(value)}`);
    if (spec.minimum !== undefined && value < spec.minimum)
      invalid(key, `must be at least ${spec.minimum}, got ${value}`);
  }
  if (config.subspace >= config.dim)
    invalid(
      "subspace",
      `must be below dim = ${config.dim} (0 for data in all dimensions), got ${config.subspace}`,
    );
}

function invalid(key: string, detail: string): never {
  throw errors.zooConfigInvalid("gmm-diffusion", key, detail);
}
