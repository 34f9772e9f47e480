import { createRequire } from "node:module";
import { definePlugin, PLUGIN_API_VERSION } from "@lathe/core";
import { sparsityMetric } from "./metric.js";
import { nmPass, unstructuredPass } from "./passes.js";

const { name, version } = createRequire(import.meta.url)("../package.json") as {
  name: string;
  version: string;
};

/** Pruning: `prune/unstructured`, `prune/n-m`. */
export default definePlugin({
  meta: {
    name,
    version,
    apiVersion: PLUGIN_API_VERSION,
    description:
      "Pruning: unstructured (magnitude, Wanda, SparseGPT) and N:M semi-structured sparsity.",
  },
  passes: [unstructuredPass, nmPass],
  metrics: [sparsityMetric],
});
