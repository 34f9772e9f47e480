import { SeededRandom } from "@lathe/core";
import type { StateDictEntry } from "./unet-state-dict.js";

/**
 * Deterministic UNet parameters at torch's default initialisation (diffusers adds none): Conv2d
 * and Linear weights and biases U(±1/√fan_in), norms weight 1 and bias 0. Each tensor's values
 * come from its own stream, seeded from the model seed and the parameter's name, so they do not
 * depend on the order they are asked for. Values are i.i.d., so a folded `W.T` is drawn directly
 * in its [in, out] layout.
 */
export class UnetWeights {
  readonly #seed: number;

  constructor(seed: number) {
    this.#seed = seed >>> 0;
  }

  values(entry: StateDictEntry): Float32Array {
    const count = entry.dims.reduce((a, b) => a * b, 1);
    switch (entry.init.kind) {
      case "ones":
        return new Float32Array(count).fill(1);
      case "zeros":
        return new Float32Array(count);
      case "uniform": {
        const bound = 1 / Math.sqrt(entry.init.fanIn);
        return parameterStream(this.#seed ^ hashName(entry.name)).uniforms(count, -bound, bound);
      }
    }
  }
}

/**
 * A parameter's stream: a generator seeded by four draws of another, the second made odd (the
 * zoo's UNet weights have always been drawn this way; changing it would change every weight).
 */
function parameterStream(seed: number): SeededRandom {
  const seeds = new SeededRandom(seed);
  return new SeededRandom([
    seeds.nextUint32(),
    seeds.nextUint32() | 1,
    seeds.nextUint32(),
    seeds.nextUint32(),
  ]);
}

/** FNV-1a of the parameter name. */
function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
