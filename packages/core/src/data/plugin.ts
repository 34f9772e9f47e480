import { definePlugin } from "../plugin/define.js";
import { PLUGIN_API_VERSION } from "../plugin/types.js";
import { LATHE_VERSION } from "../version.js";
import { builtinDataSources } from "./sources.js";

/** The data sources Lathe ships: `npy`, `npz`, `pb`, `json`, `random`, `images`, `audio`, `text`. */
export const builtinDataPlugin = definePlugin({
  meta: {
    name: "@lathe/core/data",
    version: LATHE_VERSION,
    apiVersion: PLUGIN_API_VERSION,
    description:
      "Samples from .npy/.npz files, ONNX TensorProto .pb files, JSON, images, WAV audio, tokenized text, or generated.",
  },
  dataSources: [...builtinDataSources],
});
