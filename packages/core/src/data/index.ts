export { type AudioOptions, type AudioWindow, audioSource } from "./audio.js";
export { countRecords } from "./count.js";
export { checkRecordFits, type InputSpec, recordMismatch } from "./fit.js";
export { type ImagesOptions, imagesSource } from "./images.js";
export { parseJsonRecords } from "./json.js";
export type { FileLabels } from "./labels.js";
export { encodeNpy, parseNpy } from "./npy.js";
export { parseNpz } from "./npz.js";
export { readTensorFile, tensorFileSets } from "./pb.js";
export { builtinDataPlugin } from "./plugin.js";
export {
  builtinDataSources,
  type JsonOptions,
  jsonSource,
  type NpyOptions,
  type NpzOptions,
  npySource,
  npzSource,
  type PbOptions,
  pbSource,
  type RandomOptions,
  randomSource,
} from "./sources.js";
export { splitRecord } from "./split.js";
export { type TextInputs, type TextLabels, type TextOptions, textSource } from "./text.js";
export { readZip, type ZipMember } from "./zip.js";
