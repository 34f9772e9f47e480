import type { Model } from "./ir/model.js";

/**
 * What flows between passes: named ONNX components (`model`, or `unet`, `vae_encoder`,
 * `vae_decoder`, …) plus metadata such as a sampler's noise schedule. A single-model bundle
 * has one component named `model`.
 */
export interface ModelBundle {
  readonly components: ReadonlyMap<string, Model>;
  readonly metadata: Readonly<Record<string, unknown>>;
}

export function singleModelBundle(
  model: Model,
  metadata: Record<string, unknown> = {},
): ModelBundle {
  return { components: new Map([["model", model]]), metadata };
}
