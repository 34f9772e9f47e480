import { createRequire } from "node:module";
import { definePlugin, type PassDefinition, PLUGIN_API_VERSION } from "@lathe/core";
import { fp16Pass } from "./fp16/fp16.js";
import { dynamicInt8Pass } from "./int8/dynamic-int8.js";
import { staticInt8Pass } from "./int8/static-int8.js";
import { weightOnlyPass } from "./weight-only/weight-only.js";

const { name, version } = createRequire(import.meta.url)("../package.json") as {
  name: string;
  version: string;
};

/** Every pass of the plugin, in the order `lathe plugins` lists them. */
const passes: PassDefinition[] = [dynamicInt8Pass, staticInt8Pass, weightOnlyPass, fp16Pass];

/** Quantization: `quantize/dynamic-int8`, `quantize/static-int8`, `quantize/weight-only`, `quantize/fp16`. */
export default definePlugin({
  meta: {
    name,
    version,
    apiVersion: PLUGIN_API_VERSION,
    description:
      "Quantization: int8 dynamic and static (QDQ), 4/8-bit weight-only (RTN, GPTQ), fp16.",
  },
  passes,
});
