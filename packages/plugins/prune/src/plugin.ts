import { createRequire } from "node:module";
import { definePlugin, PLUGIN_API_VERSION } from "@lathe/core";
import { sparsityMetric } from "./metric.js";
import { nmPass, unstructuredPass } from "./passes.js";
import { structuredPass } from "./structured/pass.js";

const { name, version } = createRequire(import.meta.url)("../package.json") as {
  name: string;
  version: string;
};

/** Pruning: `prune/unstructured`, `prune/n-m`, `prune/structured`. */
export default definePlugin({
  meta: {
    name,
    version,
    apiVersion: PLUGIN_API_VERSION,
    description:
      "Pruning: unstructured (magnitude, Wanda, SparseGPT), N:M semi-structured sparsity, and structured removal of heads, channels and blocks.",
  },
  passes: [unstructuredPass, nmPass, structuredPass],
  metrics: [sparsityMetric],
});
