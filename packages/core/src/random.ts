import { createHash } from "node:crypto";
import type { PassRandom } from "./plugin/types.js";

/** Four 32-bit words of xoshiro128** state (not all zero). */
export type RandomState = readonly [number, number, number, number];

/** Size of the shared table `fastNormals` draws from: 16-bit indices, two per step. */
const NORMAL_TABLE_SIZE = 1 << 16;
/** Seed of that table, fixed so every generator and machine shares it. */
const NORMAL_TABLE_SEED = 0x6e6f726d;
let normalTable: Float32Array | undefined;

/**
 * The one seeded random generator of Lathe: passes (`ctx.random`), generated inputs, the zoo's
 * weights, tests and benchmarks all draw from it, so the same seed gives the same numbers on
 * every machine. xoshiro128** for the bits, Box–Muller for normals; the array methods run in
 * tight loops, because the realistic zoo configs need hundreds of millions of values.
 *
 * Seeds: a number is spread over the state by splitmix32 (the zoo's weights depend on exactly
 * this); a string by sha256 (the pass streams, keyed by recipe seed, pass id and input digest);
 * four words are the state itself.
 */
export class SeededRandom implements PassRandom {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  #spare: number | undefined;

  constructor(seed: number | string | RandomState) {
    const [a, b, c, d] =
      typeof seed === "number"
        ? SeededRandom.splitmixState(seed)
        : typeof seed === "string"
          ? sha256State(seed)
          : seed;
    this.#a = a >>> 0;
    this.#b = b >>> 0;
    this.#c = c >>> 0;
    this.#d = d >>> 0;
    // The all-zero state would only ever give zeros.
    if ((this.#a | this.#b | this.#c | this.#d) === 0) this.#a = 1;
  }

  /** The state a number seeds: four steps of splitmix32 from it. */
  static splitmixState(seed: number): RandomState {
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    return [next(), next(), next(), next()];
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.#b, 5), 7), 9) >>> 0;
    const t = this.#b << 9;
    this.#c ^= this.#a;
    this.#d ^= this.#b;
    this.#b ^= this.#c;
    this.#a ^= this.#d;
    this.#c ^= t;
    this.#d = rotl(this.#d, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Box–Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.#spare !== undefined) {
      const spare = this.#spare;
      this.#spare = undefined;
      return spare;
    }
    // 1 - uniform() is in (0, 1], so the logarithm is finite.
    const radius = Math.sqrt(-2 * Math.log(1 - this.uniform()));
    const angle = 2 * Math.PI * this.uniform();
    this.#spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }

  /** A Float32Array of `n` normals with standard deviation `std` (and mean `mean`). */
  normals(n: number, std = 1, mean = 0): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = mean + std * this.normal();
    return out;
  }

  /**
   * A Float32Array of `n` uniforms in [lo, hi), one step each, the step inlined (a method call
   * per value is several times slower on the zoo's 860 M-weight UNet).
   */
  uniforms(n: number, lo: number, hi: number): Float32Array {
    const out = new Float32Array(n);
    // bits · (span / 2³²) rounds as span · (bits / 2³²) does: dividing by 2³² is exact.
    const scale = (hi - lo) / 4294967296;
    let a = this.#a | 0;
    let b = this.#b | 0;
    let c = this.#c | 0;
    let d = this.#d | 0;
    for (let i = 0; i < n; i++) {
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
    this.#a = a >>> 0;
    this.#b = b >>> 0;
    this.#c = c >>> 0;
    this.#d = d >>> 0;
    return out;
  }

  /**
   * `n` draws from N(0, std²) for weight initialisation at ~100 M/s, where `normals` manages
   * ~18 M/s: i.i.d. picks from a fixed table of 65,536 standard normals, two 16-bit indices per
   * step (inlined, then stored back, so the stream continues as usual). The draws are discrete
   * and bounded by the table's extremes (about ±4.3): use `normals` where exact Gaussian tails
   * matter.
   */
  fastNormals(n: number, std = 1): Float32Array {
    normalTable ??= new SeededRandom(NORMAL_TABLE_SEED).normals(NORMAL_TABLE_SIZE);
    const scaled = normalTable.map((x) => x * std);
    const out = new Float32Array(n);
    let a = this.#a | 0;
    let b = this.#b | 0;
    let c = this.#c | 0;
    let d = this.#d | 0;
    for (let i = 0; i < n; i += 2) {
      const b5 = Math.imul(b, 5);
      const bits = Math.imul((b5 << 7) | (b5 >>> 25), 9);
      const t = b << 9;
      c ^= a;
      d ^= b;
      b ^= c;
      a ^= d;
      c ^= t;
      d = (d << 11) | (d >>> 21);
      out[i] = scaled[bits & 0xffff] as number;
      if (i + 1 < n) out[i + 1] = scaled[bits >>> 16] as number;
    }
    this.#a = a >>> 0;
    this.#b = b >>> 0;
    this.#c = c >>> 0;
    this.#d = d >>> 0;
    return out;
  }

  /** An independent generator derived from this one (for per-layer streams). */
  fork(): SeededRandom {
    return new SeededRandom(this.nextUint32());
  }
}

function sha256State(seed: string): RandomState {
  const digest = createHash("sha256").update(seed).digest();
  return [
    digest.readUInt32LE(0),
    digest.readUInt32LE(4),
    digest.readUInt32LE(8),
    digest.readUInt32LE(12),
  ];
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
