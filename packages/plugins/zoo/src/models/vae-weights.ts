import { SeededRandom } from "@lathe/core";
import type { ParameterSpec } from "./vae-state-dict.js";

/**
 * PyTorch's default initialization, which AutoencoderKL keeps (diffusers adds no `_init_weights`
 * for it): Conv2d and Linear weights kaiming_uniform(a=√5), i.e. U(−1/√fan_in, 1/√fan_in),
 * biases U(−1/√fan_in, 1/√fan_in); GroupNorm weight 1, bias 0.
 *
 * Each tensor's stream is seeded from the model seed and the parameter's name, so values do not
 * depend on the order they are asked for; SD's 84 M parameters take well under a second.
 */
export function initialValues(spec: ParameterSpec, seed: number): Float32Array {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  switch (spec.role) {
    case "norm.weight":
      return new Float32Array(count).fill(1);
    case "norm.bias":
      return new Float32Array(count);
    default:
      return uniformValues(count, 1 / Math.sqrt(spec.fanIn), streamSeed(seed, spec.name));
  }
}

/** A seed for one named stream of a model seed (FNV-1a over the name, mixed with the seed). */
export function streamSeed(seed: number, name: string): number {
  let hash = 0x811c9dc5 ^ seed;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/**
 * `count` draws of U(−bound, bound) from the stream `seed` starts, its second state word made
 * odd (the zoo's VAE weights have always been drawn this way; changing it would change them all).
 */
function uniformValues(count: number, bound: number, seed: number): Float32Array {
  const [a, b, c, d] = SeededRandom.splitmixState(seed);
  return new SeededRandom([a, b | 1, c, d]).uniforms(count, -bound, bound);
}
