import { definePlugin } from "../plugin/define.js";
import { PLUGIN_API_VERSION } from "../plugin/types.js";
import { LATHE_VERSION } from "../version.js";
import { accuracyMetric } from "./accuracy.js";
import { fidelityMetric } from "./fidelity.js";
import { latencyMetric } from "./latency.js";
import { memoryMetric } from "./memory.js";
import { sizeMetric } from "./size.js";

/**
 * The metrics Lathe ships: `core/latency`, `core/memory`, `core/size`, `core/fidelity`,
 * `core/accuracy`.
 */
export const builtinMetricsPlugin = definePlugin({
  meta: {
    name: "@lathe/core/metrics",
    version: LATHE_VERSION,
    apiVersion: PLUGIN_API_VERSION,
    description: "Latency, peak memory, size on disk and fidelity against the reference.",
  },
  metrics: [latencyMetric, memoryMetric, sizeMetric, fidelityMetric, accuracyMetric],
});
