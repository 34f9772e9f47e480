export { type BuiltZooModel, buildZooModel, buildZooSource, findZooModel } from "./build.js";
export { parseAssignments, parseZooSource, resolveConfig } from "./config.js";
export { exactNoisePrediction } from "./models/gmm-analytic.js";
export { type GmmDiffusionConfig, gmmDiffusion } from "./models/gmm-diffusion.js";
export { type GmmMetadata, readGmmMetadata } from "./models/gmm-metadata.js";
export {
  fromMixtureCoordinates,
  type GaussianMixture,
  marginalLogDensity,
  sampleMarginal,
  toMixtureCoordinates,
} from "./models/gmm-mixture.js";
export {
  meanLogLikelihood,
  type SlicedWassersteinOptions,
  slicedWasserstein,
} from "./models/gmm-quality.js";
export {
  type Denoiser,
  inferenceTimesteps,
  type SamplerOptions,
  sampleDdim,
} from "./models/gmm-sampler.js";
export { type NoiseSchedule, noiseSchedule } from "./models/gmm-schedule.js";
export { gpt2 } from "./models/gpt2.js";
export type { Gpt2Config } from "./models/gpt2-config.js";
export { llama } from "./models/llama.js";
export type { LlamaConfig } from "./models/llama-config.js";
export { unet } from "./models/unet.js";
export type { UnetConfig } from "./models/unet-config.js";
export { type VaeMetadata, vae } from "./models/vae.js";
export type { VaeConfig } from "./models/vae-config.js";
export { default } from "./plugin.js";
export { zooModels } from "./registry.js";
export { type ConfigKey, type ConfigValue, defineZooModel, type ZooModel } from "./zoo-model.js";
