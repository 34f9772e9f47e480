/**
 * @lathe/core/testing: what a plugin's tests need. `PassTester` runs tables of options and
 * model cases against a pass with the engine's own checks (docs/writing-a-pass.md);
 * `maxAbsDiff` compares numbers. Lathe's own tests use the same helpers.
 */
export { ExpectationFailure } from "./expectation.js";
export { maxAbsDiff } from "./numbers.js";
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
