export { type Layer, layerOf } from "./layers.js";
export { type SparsityMetricOptions, sparsityMetric } from "./metric.js";
export { type NmOptions, nmPass, type UnstructuredOptions, unstructuredPass } from "./passes.js";
export { default } from "./plugin.js";
export { type PruneCommonOptions, pruneBundle } from "./prune.js";
export {
  applyMask,
  type Criterion,
  globalThreshold,
  nmMask,
  unstructuredMask,
  weightScores,
} from "./sparsity.js";
export { type StructuredOptions, structuredPass } from "./structured/pass.js";
export { type Moments, type Refit, ridgeRefit } from "./structured/reconstruct.js";
export { traceGroup, type UnitGroup } from "./structured/trace.js";
