/** Size of the shared table `fastNormals` draws from: 16-bit indices, two per xoshiro step. */
const NORMAL_TABLE_SIZE = 1 << 16;
/** Seed of that table, fixed so every generator and machine shares it. */
const NORMAL_TABLE_SEED = 0x6e6f726d;
let normalTable: Float32Array | undefined;

/**
 * Deterministic random numbers for weights and inputs: the same seed gives the same model on
 * every machine. xoshiro128** for uniform bits, Box–Muller for normals; both fill typed arrays
 * in tight loops, because the realistic configs need hundreds of millions of values.
 */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  #spare: number | undefined;

  constructor(seed: number) {
    // splitmix32 spreads the seed over the four words of state.
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = next();
    this.#b = next();
    this.#c = next();
    this.#d = next();
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

  /** Standard normal. */
  normal(): number {
    if (this.#spare !== undefined) {
      const s = this.#spare;
      this.#spare = undefined;
      return s;
    }
    const u = 1 - this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** A Float32Array of `n` normals with standard deviation `std` (and mean `mean`). */
  normals(n: number, std = 1, mean = 0): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = mean + std * this.normal();
    return out;
  }

  /**
   * `n` draws from N(0, std²) for weight initialisation at ~100 M/s, where `normals` manages
   * ~18 M/s: i.i.d. picks from a fixed table of 65,536 standard normals, two 16-bit indices per
   * step of this generator (inlined, then stored back, so the stream continues as usual). The
   * draws are discrete and bounded by the table's extremes (about ±4.3): use `normals` where
   * exact Gaussian tails matter.
   */
  fastNormals(n: number, std = 1): Float32Array {
    normalTable ??= new Rng(NORMAL_TABLE_SEED).normals(NORMAL_TABLE_SIZE);
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

  /** A Float32Array of `n` uniforms in [lo, hi). */
  uniforms(n: number, lo: number, hi: number): Float32Array {
    const out = new Float32Array(n);
    const span = hi - lo;
    for (let i = 0; i < n; i++) out[i] = lo + span * this.uniform();
    return out;
  }

  /** An independent generator derived from this one (for per-layer streams). */
  fork(): Rng {
    return new Rng(this.nextUint32());
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
