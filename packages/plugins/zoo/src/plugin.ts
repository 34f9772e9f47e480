import { createRequire } from "node:module";
import { definePlugin, PLUGIN_API_VERSION } from "@lathe/core";
import { buildZooSource } from "./build.js";
import { zooModels } from "./registry.js";

const { name, version } = createRequire(import.meta.url)("../package.json") as {
  name: string;
  version: string;
};

/** The zoo as a plugin: recipes name its models as `model: zoo:<name>?size=tiny&seed=1`. */
export default definePlugin({
  meta: {
    name,
    version,
    apiVersion: PLUGIN_API_VERSION,
    description: "Built-in generative models shaped like real ONNX exports.",
  },
  modelSources: [
    {
      scheme: "zoo",
      summary: "A built-in model: zoo:<name>?size=<preset>&<key>=<value>&seed=<n>",
      load: async (source) => buildZooSource(zooModels, source).bundle,
    },
  ],
});
