export type { Adapter, AdapterContext } from "./adapter.js";
export { NEWEST_CONVERTIBLE_OPSET, OLDEST_CONVERTIBLE_OPSET } from "./adapters/table.js";
export {
  type AdapterUse,
  type ConversionProblem,
  type ConvertOpsetOptions,
  convertOpset,
  type OpsetConversion,
  opsetConversionProblems,
} from "./convert.js";
export type { OpHistory } from "./history.js";
export { builtinOnnxPlugin, type ConvertOpsetPassOptions, convertOpsetPass } from "./pass.js";
