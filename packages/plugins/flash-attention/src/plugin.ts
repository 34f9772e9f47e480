import { createRequire } from "node:module";
import { definePlugin, type PassDefinition, PLUGIN_API_VERSION } from "@lathe/core";
import { flashAttentionRewrite } from "./pass.js";

const { name, version } = createRequire(import.meta.url)("../package.json") as {
  name: string;
  version: string;
};

const passes: PassDefinition[] = [flashAttentionRewrite];

/** `flash-attention/rewrite`: exported attention subgraphs → fused attention operators. */
export default definePlugin({
  meta: {
    name,
    version,
    apiVersion: PLUGIN_API_VERSION,
    description: "Rewrites unfused attention into ONNX Runtime's fused, tiled attention operators.",
  },
  passes,
});
