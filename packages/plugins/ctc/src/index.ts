export {
  alphabetFromLines,
  type CtcAlphabet,
  ctcGreedyDecode,
  dictionaryLines,
  editDistance,
  type RecognitionScore,
  scoreLines,
} from "./decode.js";
