import { createRequire } from "node:module";
import {
  definePlugin,
  type MetricDefinition,
  type PassDefinition,
  PLUGIN_API_VERSION,
} from "@lathe/core";
import { gmmQualityMetric, trajectoryErrorMetric } from "./metrics.js";
import { distillSteps } from "./pass.js";

const { name, version } = createRequire(import.meta.url)("../package.json") as {
  name: string;
  version: string;
};

/** `diffusion/distill-steps` and the metrics that judge a few-step sampler. */
export default definePlugin({
  meta: {
    name,
    version,
    apiVersion: PLUGIN_API_VERSION,
    description:
      "Diffusion-step distillation: few-step sampler schedules learned from a many-step teacher, exported as one ONNX graph.",
  },
  passes: [distillSteps as PassDefinition],
  metrics: [trajectoryErrorMetric as MetricDefinition, gmmQualityMetric as MetricDefinition],
});
