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

/** `count` draws of U(−bound, bound) from an inlined xoshiro128** (tight loop for speed). */
function uniformValues(count: number, bound: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  // splitmix32 spreads the seed over the four words of state
  let s = seed;
  const next = () => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return z ^ (z >>> 16);
  };
  let a = next();
  let b = next() | 1; // never the all-zero state
  let c = next();
  let d = next();
  const scale = (2 * bound) / 4294967296;
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
    out[i] = bits * scale - bound;
  }
  return out;
}
