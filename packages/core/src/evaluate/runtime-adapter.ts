/** The runtime API the metrics use (packages/core/src/runtime), in one place. */
export {
  generateInputs,
  type OrtFeeds,
  openSession,
  type RuntimeSession,
  type ValueSignature,
} from "../runtime/index.js";
