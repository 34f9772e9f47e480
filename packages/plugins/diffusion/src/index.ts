export { type OpenDenoiser, openDenoiser, toDenoised } from "./denoiser.js";
export {
  type DistillResult,
  type DistillSettings,
  distillSchedule,
  METHODS,
  type Method,
} from "./distill.js";
export {
  conditioningFor,
  drawNoise,
  initialScale,
  resolveSampleShape,
  startPoint,
} from "./inputs.js";
export {
  gmmQuality,
  gmmQualityMetric,
  modeCoverage,
  trajectoryErrorMetric,
} from "./metrics.js";
export {
  alphasCumprodFor,
  CLEAN,
  continuousVp,
  discreteVp,
  lambda,
  type NoiseModel,
  sigmaHat,
  type TimePoint,
  varianceExploding,
} from "./noise.js";
export { type DistillStepsOptions, distillSteps } from "./pass.js";
export { default } from "./plugin.js";
export {
  liftChannels,
  projectChannels,
  type ReducedSpace,
  reducedSpace,
} from "./reduced.js";
export { buildSamplerGraph, SAMPLER_INPUT, SAMPLER_OUTPUT } from "./sampler-graph.js";
export { drawSamples, type SampleRequest, type Samples, samplerMetadata } from "./sampling.js";
export { BASELINES, type Baseline, baselineSchedule, pointsAt, teacherGrid } from "./schedules.js";
export {
  cheapestPath,
  gitsCosts,
  gitsPath,
  ossPath,
  refineSchedule,
  rowsRmse,
  solveTeacher,
  type Teacher,
} from "./search.js";
export {
  combine,
  type Denoise,
  planSolver,
  runPlan,
  SOLVERS,
  type Solver,
  type StepPlan,
} from "./solvers.js";
export { type DiffusionSpec, PREDICTIONS, type Prediction, readDiffusionSpec } from "./spec.js";
