export { type RunBatch, withBatchRuns } from "./batch-runs.js";
export { bindDims, evaluateDim, type GenerateInputsOptions, generateInputs } from "./inputs.js";
export {
  fromOrtRecord,
  fromOrtTensor,
  loadOrt,
  ORT_DATA_TYPES,
  type OrtFeeds,
  toOrtFeeds,
  toOrtTensor,
} from "./ort.js";
export {
  type NodeProfile,
  type OpProfile,
  type PassSuggestion,
  type ProfileSummary,
  suggestPasses,
  summarizeProfile,
} from "./profile.js";
export { type ProfileOptions, type ProfileResult, profileModel } from "./profile-run.js";
export { isProviderUnavailable, PROVIDERS, providerFix } from "./providers.js";
export {
  type GraphOptimizationLevel,
  openSession,
  type RuntimeSession,
  type SessionOptions,
} from "./session.js";
export {
  createCpuSessions,
  createSessionFactory,
  type RuntimeSessionFactory,
} from "./session-factory.js";
export { isLogitsName, type ValueSignature, vocabularyOf } from "./signature.js";
export {
  describeProviderShare,
  type KernelEvent,
  kernelEvents,
  type ProviderShare,
  parseTrace,
  providerShare,
  readTrace,
  runEvents,
  type TraceEvent,
} from "./trace.js";
