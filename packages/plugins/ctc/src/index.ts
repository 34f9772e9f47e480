export {
  alphabetFromLines,
  type CtcAlphabet,
  ctcGreedyDecode,
  dictionaryLines,
  editDistance,
  type RecognitionScore,
  scoreLines,
} from "./decode.js";
export { type RecognitionMetricOptions, recognitionMetric } from "./metric.js";
export { default } from "./plugin.js";
