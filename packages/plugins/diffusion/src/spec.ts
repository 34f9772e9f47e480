import { LatheError, type Model, type ModelBundle } from "@lathe/core";
import {
  alphasCumprodFor,
  BETA_SCHEDULES,
  type BetaSchedule,
  continuousVp,
  discreteVp,
  type NoiseModel,
  varianceExploding,
} from "./noise.js";

/** What the denoiser predicts, in diffusers' `prediction_type` words. */
export type Prediction = "epsilon" | "sample" | "v_prediction";
export const PREDICTIONS: readonly Prediction[] = ["epsilon", "sample", "v_prediction"];

/** The `diffusion` metadata of a bundle (or the pass's `schedule` option). */
export interface DiffusionMetadata {
  /** What the denoiser predicts (diffusers' prediction_type). */
  prediction: Prediction;
  /** The noise schedule the denoiser was trained with. */
  schedule: ScheduleMetadata;
  /** The denoiser's component, where the bundle has several. */
  denoiser?: string;
}

export type ScheduleMetadata = DiscreteSchedule | ContinuousSchedule | VarianceExplodingSchedule;

/** diffusers-style discrete timesteps: ᾱ_t for t = 0 … T−1, given or from a beta schedule. */
export interface DiscreteSchedule {
  /** Discrete VP timesteps, as diffusers' DDPM/DDIM schedulers. */
  type: "vp-discrete";
  /** ᾱ_t for every training timestep (wins over betaSchedule). */
  alphasCumprod?: number[];
  /** diffusers' beta_schedule. */
  betaSchedule?: "linear" | "scaled_linear" | "squaredcos_cap_v2";
  /**
   * Training timesteps T.
   * @integer
   * @minimum 2
   */
  numTrainTimesteps?: number;
  /** diffusers' beta_start (linear schedules; default 0.0001). */
  betaStart?: number;
  /** diffusers' beta_end (linear schedules; default 0.02). */
  betaEnd?: number;
}

/** Song et al.'s continuous VP-SDE, t in (0, 1]. */
export interface ContinuousSchedule {
  /** Continuous VP: ᾱ(t) = exp(−½t²(β_max − β_min) − t·β_min). */
  type: "vp-continuous";
  /** β_min (0.1 in Song et al.). */
  betaMin: number;
  /** β_max (20 in Song et al.). */
  betaMax: number;
}

/** Variance exploding (EDM): the model takes σ as its timestep. */
export interface VarianceExplodingSchedule {
  /** Variance exploding: α = 1, σ = t. */
  type: "ve";
  /** The smallest σ the model was trained on (EDM: 0.002). */
  sigmaMin: number;
  /** The largest σ (EDM: 80). */
  sigmaMax: number;
}

/** How a bundle's denoiser is driven: everything a sampler needs to know about it. */
export interface DiffusionSpec {
  /** The component holding the denoiser. */
  readonly component: string;
  readonly prediction: Prediction;
  readonly noise: NoiseModel;
  /** The denoiser's input names. */
  readonly sampleInput: string;
  readonly timestepInput: string;
  /** Other inputs (text conditioning): fed from data or generated. */
  readonly conditioningInputs: readonly string[];
  readonly outputName: string;
  /** The schedule as written in metadata, copied into the sampler bundle. */
  readonly description: Readonly<Record<string, unknown>>;
}

/**
 * Reads how to sample from a bundle. Metadata keys, first found wins:
 *
 * - `diffusion`: `{ denoiser?, prediction, schedule: { type: "vp-discrete", alphasCumprod |
 *   betaSchedule + numTrainTimesteps [+ betaStart, betaEnd] } | { type: "vp-continuous", betaMin,
 *   betaMax } | { type: "ve", sigmaMin, sigmaMax } }`;
 * - `scheduler`: a diffusers scheduler config (`num_train_timesteps`, `beta_schedule`,
 *   `beta_start`, `beta_end`, `prediction_type`), as `scheduler/scheduler_config.json` holds it.
 *
 * `override` (the pass's `schedule` option) stands in for missing metadata.
 */
export function readDiffusionSpec(
  bundle: ModelBundle,
  override?: DiffusionMetadata,
): DiffusionSpec {
  const meta = bundle.metadata as Record<string, unknown>;
  const description = (override ??
    asRecord(meta.diffusion) ??
    fromDiffusersScheduler(asRecord(meta.scheduler))) as Record<string, unknown> | undefined;
  if (!description) {
    throw specError(
      "the bundle says nothing about its noise schedule",
      "metadata",
      "add metadata `diffusion: { prediction: epsilon, schedule: { type: vp-discrete, betaSchedule: scaled_linear, numTrainTimesteps: 1000 } }` (or a diffusers `scheduler` config), or give the pass's `schedule` option",
    );
  }
  const component = pickComponent(bundle, description.denoiser);
  const model = bundle.components.get(component) as Model;
  const prediction = description.prediction;
  if (!PREDICTIONS.includes(prediction as Prediction)) {
    throw specError(
      `the prediction type is ${prediction === undefined ? "missing" : JSON.stringify(prediction)}`,
      "metadata.diffusion.prediction",
      `set it to one of ${PREDICTIONS.join(", ")} (diffusers' prediction_type)`,
    );
  }
  const noise = noiseModel(asRecord(description.schedule));
  const inputs = model.graph.inputs.map((v) => v.name);
  const sampleInput = findInput(
    inputs,
    ["sample", "x", "latent", "latents", "noisy_sample"],
    "sample",
  );
  const timestepInput = findInput(inputs, ["timestep", "timesteps", "t", "sigma"], "timestep");
  const outputName = model.graph.outputs[0]?.name ?? "";
  return {
    component,
    prediction: prediction as Prediction,
    noise,
    sampleInput,
    timestepInput,
    conditioningInputs: inputs.filter((name) => name !== sampleInput && name !== timestepInput),
    outputName,
    description: { ...description, denoiser: component },
  };
}

function noiseModel(schedule: Record<string, unknown> | undefined): NoiseModel {
  const where = "metadata.diffusion.schedule";
  if (!schedule) {
    throw specError(
      "the noise schedule is missing",
      where,
      "add `schedule: { type: vp-discrete | vp-continuous | ve, … }`",
    );
  }
  const number = (key: string): number => {
    const value = schedule[key];
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw specError(
        `\`${key}\` is ${value === undefined ? "missing" : "not a number"}`,
        `${where}.${key}`,
        `give the ${schedule.type} schedule's ${key}`,
      );
    }
    return value;
  };
  switch (schedule.type) {
    case "vp-discrete": {
      const table = schedule.alphasCumprod;
      if (Array.isArray(table)) {
        if (table.length < 2 || !table.every((a) => typeof a === "number" && a > 0 && a <= 1)) {
          throw specError(
            "`alphasCumprod` must hold at least two numbers in (0, 1]",
            `${where}.alphasCumprod`,
            "write ᾱ_t for t = 0 … T−1",
          );
        }
        return discreteVp(table as number[]);
      }
      const betaSchedule = schedule.betaSchedule;
      if (!BETA_SCHEDULES.includes(betaSchedule as BetaSchedule)) {
        throw specError(
          "a vp-discrete schedule needs `alphasCumprod` or a known `betaSchedule`",
          `${where}.betaSchedule`,
          `one of ${BETA_SCHEDULES.join(", ")}, with numTrainTimesteps (and betaStart/betaEnd for the linear ones)`,
        );
      }
      const steps = number("numTrainTimesteps");
      const start = typeof schedule.betaStart === "number" ? schedule.betaStart : undefined;
      const end = typeof schedule.betaEnd === "number" ? schedule.betaEnd : undefined;
      return discreteVp(alphasCumprodFor(betaSchedule as BetaSchedule, steps, start, end));
    }
    case "vp-continuous":
      return continuousVp(number("betaMin"), number("betaMax"));
    case "ve":
      return varianceExploding(number("sigmaMin"), number("sigmaMax"));
    default:
      throw specError(
        `unknown schedule type ${JSON.stringify(schedule.type)}`,
        `${where}.type`,
        "one of vp-discrete, vp-continuous, ve",
      );
  }
}

/** A diffusers scheduler config, in the `diffusion` form. */
function fromDiffusersScheduler(
  config: Record<string, unknown> | undefined,
): Record<string, unknown> | undefined {
  if (!config) return undefined;
  return {
    prediction: config.prediction_type,
    schedule: {
      type: "vp-discrete",
      betaSchedule: config.beta_schedule,
      numTrainTimesteps: config.num_train_timesteps,
      ...(typeof config.beta_start === "number" ? { betaStart: config.beta_start } : {}),
      ...(typeof config.beta_end === "number" ? { betaEnd: config.beta_end } : {}),
    },
  };
}

function pickComponent(bundle: ModelBundle, named: unknown): string {
  const names = [...bundle.components.keys()];
  if (typeof named === "string") {
    if (!bundle.components.has(named)) {
      throw specError(
        `the denoiser component "${named}" is not in the bundle`,
        "metadata.diffusion.denoiser",
        `the bundle has ${names.join(", ")}`,
      );
    }
    return named;
  }
  for (const preferred of ["unet", "transformer", "denoiser", "model"]) {
    if (bundle.components.has(preferred)) return preferred;
  }
  if (names.length === 1) return names[0] as string;
  throw specError(
    "cannot tell which component is the denoiser",
    "metadata.diffusion.denoiser",
    `name it: one of ${names.join(", ")}`,
  );
}

function findInput(inputs: readonly string[], candidates: readonly string[], role: string): string {
  const found = candidates.find((c) => inputs.includes(c));
  if (found) return found;
  throw specError(
    `the denoiser has no ${role} input (inputs: ${inputs.join(", ")})`,
    "denoiser inputs",
    `name the ${role} input one of ${candidates.join(", ")}, as diffusers' exports do`,
  );
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function specError(what: string, where: string, hint: string): LatheError {
  return new LatheError("DIFFUSION_METADATA_INVALID", what, { where, hint });
}
