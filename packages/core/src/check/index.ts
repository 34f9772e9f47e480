export { checkModel } from "./check-model.js";
export { type CheckCode, type CheckFinding, type CheckReport, formatFinding } from "./findings.js";
export { minimumIrVersion } from "./ir-version.js";
export {
  type ComponentVerification,
  DEFAULT_VERIFY_LOAD_LIMIT,
  VERIFY_LEVELS,
  type VerifyLevel,
  type VerifyOptions,
  verifyBundle,
  verifyModel,
} from "./verify.js";
