/**
 * @lathe/core/testing: what a plugin's tests need. `PassTester` runs tables of options and
 * model cases against a pass with the engine's own checks (docs/writing-a-pass.md);
 * `runOnOrt` and friends run a model on ONNX Runtime's CPU provider; the tensor constructors
 * write its feeds; `maxAbsDiff` compares numbers; `tempDirs` and `withTempDir` give folders
 * that are removed afterwards. Lathe's own tests use the same helpers. Nothing here imports a
 * test framework: hooks such as vitest's `afterEach` are passed in.
 */
export { ExpectationFailure } from "./expectation.js";
export { maxAbsDiff, randomFloats } from "./numbers.js";
export { opCounts } from "./op-counts.js";
export {
  type ArrayFeed,
  floatOutput,
  floatOutputs,
  floatValues,
  maxOutputDiff,
  type OrtOutputs,
  openOrtSession,
  ortFeeds,
  runFloat,
  runFloats,
  runOnOrt,
  type TestFeed,
  type TestFeeds,
  type TestModel,
  withOrtSession,
} from "./ort-run.js";
export {
  boolTensor,
  float32Tensor,
  int64Rows,
  int64Tensor,
  randomFloat32Tensor,
} from "./ort-tensors.js";
export {
  type CaseModel,
  type Equivalence,
  type InvalidOptionsCase,
  type PassCase,
  type PassExpectation,
  type PassRunOutcome,
  PassTester,
  type PassTesterSettings,
  type PassTestTables,
  type TestFunctions,
} from "./pass-tester.js";
export { tempDirs, withTempDir } from "./temp-dirs.js";
