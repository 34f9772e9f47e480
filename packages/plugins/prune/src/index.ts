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
