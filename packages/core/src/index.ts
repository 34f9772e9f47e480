/**
 * @lathe/core: the ONNX codec and IR, the graph builder, and (as later parts land) recipes,
 * the pass engine, runtime and evaluation. Everything public is exported here.
 */

export { type ModelBundle, singleModelBundle } from "./bundle.js";
export { BUNDLE_MANIFEST, type BundleManifest, loadBundle, saveBundle } from "./bundle-file.js";
export * from "./check/index.js";
export * from "./data/index.js";
export { errors, isLatheError, LatheError, type LatheErrorOptions } from "./diagnostics.js";
export * from "./evaluate/index.js";
export * from "./graph/index.js";
export * from "./inspect/index.js";
export * from "./ir/index.js";
export * from "./linalg/index.js";
export * from "./onnx/index.js";
export * from "./opset/index.js";
export * from "./pipeline/index.js";
export * from "./plugin/index.js";
export { type RandomState, SeededRandom } from "./random.js";
export * from "./recipe/index.js";
export * from "./rewrite/index.js";
export * from "./runtime/index.js";
export * from "./schemas/index.js";
export * from "./shapes/index.js";
export { closestMatch } from "./suggest.js";
export { LATHE_VERSION } from "./version.js";
