export { DEFAULT_TOP, type InspectOptions, inspectFile, inspectModel } from "./inspect.js";
export * from "./summary.js";
