import { Rng } from "../random.js";
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
        return uniforms(new Rng(this.#seed ^ hashName(entry.name)), count, -bound, bound);
      }
    }
  }
}

/**
 * `count` uniforms in [lo, hi) from an inlined xoshiro128** (`Rng.uniforms` calls a method per
 * value; SD 1.5 needs 860 M of them).
 */
function uniforms(rng: Rng, count: number, lo: number, hi: number): Float32Array {
  const out = new Float32Array(count);
  const scale = (hi - lo) / 4294967296;
  let a = rng.nextUint32() | 0;
  let b = rng.nextUint32() | 1; // xoshiro128** must not start from an all-zero state
  let c = rng.nextUint32() | 0;
  let d = rng.nextUint32() | 0;
  for (let i = 0; i < count; i++) {
    const b5 = Math.imul(b, 5);
    const bits = Math.imul((b5 << 7) | (b5 >>> 25), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = (d << 11) | (d >>> 21);
    out[i] = lo + bits * scale;
  }
  return out;
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
