import { createRequire } from "node:module";
import { definePlugin, PLUGIN_API_VERSION } from "@lathe/core";
import { recognitionMetric } from "./metric.js";

const { name, version } = createRequire(import.meta.url)("../package.json") as {
  name: string;
  version: string;
};

/** Task metrics for CTC sequence recognizers: `ctc/recognition`. */
export default definePlugin({
  meta: {
    name,
    version,
    apiVersion: PLUGIN_API_VERSION,
    description:
      "Task metric for CTC sequence recognizers: greedy decoding, character error rate and exact lines against a data set's transcripts.",
  },
  metrics: [recognitionMetric],
});
