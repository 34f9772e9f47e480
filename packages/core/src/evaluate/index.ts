export { type AccuracyOptions, accuracyMetric } from "./accuracy.js";
export { artifactComponents, componentSize } from "./artifact.js";
export { builtinMetricsPlugin } from "./builtin-plugin.js";
export {
  type Comparison,
  type Constraint,
  type ConstraintCheck,
  ConstraintSyntaxError,
  fmt as formatMetricValue,
  judge,
  type MetricValues,
  parseConstraint,
  type Verdict,
} from "./constraints.js";
export {
  type EvaluatedCandidate,
  type EvaluatedModel,
  type EvaluationEvent,
  type EvaluationParts,
  type EvaluationResult,
  evaluateModels,
  jsonNumbers,
  type Measurable,
  type MetricOutcome,
  type MetricUse,
} from "./evaluation.js";
export { compareOutputs, fidelityMetric, runOnRecords } from "./fidelity.js";
export * from "./fidelity-math.js";
export { evaluationInputs, tokenCount } from "./inputs.js";
export { latencyMetric, measureComponentLatency } from "./latency.js";
export { type ChildMemory, measureChildMemory, memoryMetric } from "./memory.js";
export {
  type Direction,
  type Objective,
  paretoFront,
  type Scored,
  type Selection,
  selectByObjective,
} from "./select.js";
export { artifactSize, sizeMetric } from "./size.js";
export { measurableFile } from "./standalone.js";
export { quantile, summarizeTimings, type TimingSummary } from "./stats.js";
export { DEFAULT_TIMING, type TimingPlan, timeRuns } from "./timing.js";
