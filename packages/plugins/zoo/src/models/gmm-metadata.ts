import { LatheError, type ModelBundle } from "@lathe/core";
import { COVARIANCES, type GaussianMixture } from "./gmm-mixture.js";
import { BETA_SCHEDULES, type NoiseSchedule } from "./gmm-schedule.js";

/** What a gmm-diffusion bundle's metadata holds besides its config. */
export interface GmmMetadata {
  readonly schedule: NoiseSchedule;
  readonly mixture: GaussianMixture;
}

/**
 * Reads the noise schedule and the true mixture back from a gmm-diffusion bundle (for sample
 * quality metrics and samplers), checking their shapes so a foreign bundle fails clearly.
 */
export function readGmmMetadata(bundle: ModelBundle): GmmMetadata {
  const { schedule, mixture } = bundle.metadata as Partial<Record<string, unknown>>;
  if (!isSchedule(schedule)) throw notGmm("schedule");
  if (!isMixture(mixture)) throw notGmm("mixture");
  return { schedule, mixture };
}

function isSchedule(value: unknown): value is NoiseSchedule {
  if (typeof value !== "object" || value === null) return false;
  const s = value as Partial<Record<keyof NoiseSchedule, unknown>>;
  return (
    BETA_SCHEDULES.includes(s.betaSchedule as NoiseSchedule["betaSchedule"]) &&
    s.predictionType === "epsilon" &&
    typeof s.numTrainTimesteps === "number" &&
    isNumbers(s.betas, s.numTrainTimesteps) &&
    isNumbers(s.alphasCumprod, s.numTrainTimesteps)
  );
}

function isMixture(value: unknown): value is GaussianMixture {
  if (typeof value !== "object" || value === null) return false;
  const m = value as Partial<Record<keyof GaussianMixture, unknown>>;
  if (typeof m.dim !== "number" || !Array.isArray(m.weights)) return false;
  const { dim } = m;
  const components = m.weights.length;
  const isTable = (rows: unknown) =>
    Array.isArray(rows) && rows.length === components && rows.every((row) => isNumbers(row, dim));
  const axesValid =
    m.axes === undefined ||
    (Array.isArray(m.axes) &&
      m.axes.length === dim &&
      m.axes.every((row) => isNumbers(row, dim)) &&
      typeof m.subspace === "number");
  return (
    COVARIANCES.includes(m.covariance as GaussianMixture["covariance"]) &&
    isNumbers(m.weights, components) &&
    components > 0 &&
    isTable(m.means) &&
    isTable(m.variances) &&
    axesValid
  );
}

function isNumbers(value: unknown, length: number): value is number[] {
  return (
    Array.isArray(value) && value.length === length && value.every((v) => typeof v === "number")
  );
}

function notGmm(key: string): LatheError {
  return new LatheError(
    "GMM_METADATA_INVALID",
    `the bundle's metadata has no valid \`${key}\` of a gmm-diffusion model`,
    {
      where: `metadata.${key}`,
      hint: "build the bundle with zoo:gmm-diffusion; its metadata carries the schedule and the true mixture",
    },
  );
}
