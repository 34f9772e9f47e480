import { createRequire } from "node:module";
import { definePlugin, PLUGIN_API_VERSION } from "@lathe/core";
import { decodedPsnrMetric } from "./metric.js";
import { pcaChannels } from "./pass.js";
import { latentResolution } from "./resolution.js";
import { tokenMerge } from "./token-merge/pass.js";

const { name, version } = createRequire(import.meta.url)("../package.json") as {
  name: string;
  version: string;
};

/** Latent-space reduction: `latent/pca-channels`. */
export default definePlugin({
  meta: {
    name,
    version,
    apiVersion: PLUGIN_API_VERSION,
    description:
      "Latent-space reduction: fewer VAE latent channels by PCA, folded exactly into the encoder and decoder.",
  },
  passes: [pcaChannels, tokenMerge, latentResolution],
  metrics: [decodedPsnrMetric],
});
