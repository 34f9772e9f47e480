export { type DenoiserLayers, denoiserLayers, foldDenoiser } from "./denoiser-fold.js";
export {
  decoderPostQuantConv,
  encoderQuantConv,
  foldDecoder,
  foldEncoder,
  type Projection,
} from "./fold.js";
export { type DecodedPsnrOptions, decodedPsnrMetric } from "./metric.js";
export { type PcaChannelsOptions, pcaChannels } from "./pass.js";
export { type Eigen, explainedVariance, Moments, symmetricEigen } from "./pca.js";
export { default } from "./plugin.js";
export { type LatentResolutionOptions, latentResolution } from "./resolution.js";
export type { MergeSite, TokenRegion } from "./token-merge/find.js";
export { type TokenMergeOptions, tokenMerge } from "./token-merge/pass.js";
export {
  type Merged,
  mergeReference,
  type Tokens,
  unmergeReference,
} from "./token-merge/reference.js";
