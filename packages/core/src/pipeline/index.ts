export { ARTIFACT_META, type ArtifactMeta } from "./artifact-cache.js";
export { type StepKeyParts, stepCacheKey } from "./cache-key.js";
export { canonicalHash, canonicalJson } from "./canonical-json.js";
export type { PipelineEvent, SkipReason, StepStatus } from "./events.js";
export { type DisabledStep, type PassGraph, type PlannedStep, planRecipe } from "./plan.js";
export {
  describeInput,
  formatPlanMermaid,
  formatPlanText,
  type PlanJson,
  planToJson,
} from "./plan-format.js";
export { createPassRandom } from "./random.js";
export { FOLDER_MARKER } from "./replace-folder.js";
export type {
  EvaluatedModelReport,
  EvaluationReport,
  RunReport,
  StepReport,
} from "./report.js";
export { stepWarnings, WARNING_NOTE } from "./report.js";
export { type RunOptions, type RunResult, runPipeline, SELECTED } from "./run.js";
export {
  type PassLogLine,
  passOptionsWithDefaults,
  type RunPassSettings,
  runPassStandalone,
  type StandalonePassRun,
} from "./run-pass.js";
export { verifyPassOutput } from "./step-contract.js";
