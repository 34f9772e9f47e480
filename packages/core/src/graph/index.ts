export {
  type DeadCodeReport,
  removeDeadCode,
  removeDeadCodeInModel,
  removeDeadFrom,
  removeUnusedInitializers,
} from "./dead-code.js";
export { addConstant, constantBytes, type InsertAt, insertNode } from "./edit.js";
export { type ExposedValues, type ExposeOptions, exposeValues } from "./expose.js";
export { type FixpointReport, type ModelRewrite, rewriteToFixpoint } from "./fixpoint.js";
export {
  type FoldOptions,
  type FoldReport,
  foldConstants,
  foldConstantsOnOrt,
  type OrtFoldOptions,
} from "./fold.js";
export type { HostTensor } from "./host-tensor.js";
export {
  type InlineFunctionsOptions,
  type InlineFunctionsReport,
  inlineFunctions,
} from "./inline-functions.js";
export { NameScope } from "./naming.js";
export { type ReplaceOptions, replaceNode, replaceSubgraph, replaceValue } from "./replace.js";
export {
  GraphCoverage,
  type GraphScope,
  graphScopes,
  nodesWithScope,
  rootGraph,
  type ScopeFilter,
  subgraphsOf,
  type TraverseOptions,
  visitGraphs,
  visitGraphsAsync,
} from "./traverse.js";
