import { Rng } from "../random.js";
import type { LlamaDims } from "./llama-config.js";

/** transformers' LlamaPreTrainedModel._init_weights: N(0, initializer_range = 0.02) for Linear and Embedding. */
const INIT_STD = 0.02;

/**
 * RMSNorm weights of planted outlier channels (the others are 1): the normalized activations
 * entering q/k/v and gate/up then carry the 15–30× channels that trained LLMs show and that
 * activation quantization has to survive.
 */
const OUTLIER_GAIN_MIN = 15;
const OUTLIER_GAIN_MAX = 30;

/** One decoder layer's weights; projections are [in, out], as the exporter folds `W.T`. */
export interface LlamaLayerWeights {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  o: Float32Array;
  gate: Float32Array;
  up: Float32Array;
  down: Float32Array;
  inputNorm: Float32Array;
  postNorm: Float32Array;
}

/**
 * Deterministic LLaMA weights at the architecture's initialization scales. Every tensor has
 * its own seed drawn up front, so the values do not depend on the order they are asked for.
 */
export class LlamaWeights {
  readonly outlierChannels: readonly number[];
  readonly #dims: LlamaDims;
  readonly #normals: NormalTable;
  readonly #outlierGains: Float32Array;
  readonly #embedSeed: number;
  readonly #layerSeeds: number[];
  readonly #lmHeadSeed: number;

  constructor(dims: LlamaDims, seed: number) {
    this.#dims = dims;
    const root = new Rng(seed);
    this.#normals = new NormalTable(root.fork());
    const outlierRng = root.fork();
    this.#embedSeed = root.nextUint32();
    this.#layerSeeds = Array.from({ length: dims.layers }, () => root.nextUint32());
    this.#lmHeadSeed = root.nextUint32();
    this.outlierChannels = pickChannels(outlierRng, dims.hidden, dims.outliers);
    this.#outlierGains = outlierRng.uniforms(dims.outliers, OUTLIER_GAIN_MIN, OUTLIER_GAIN_MAX);
  }

  /** [vocab, hidden] */
  embedding(): Float32Array {
    const { vocab, hidden } = this.#dims;
    return this.#normals.sample(new Rng(this.#embedSeed), vocab * hidden, INIT_STD);
  }

  layer(index: number): LlamaLayerWeights {
    const seed = this.#layerSeeds[index];
    if (seed === undefined) throw new RangeError(`no decoder layer ${index}`);
    const rng = new Rng(seed);
    const { hidden, heads, kvHeads, headDim, intermediate } = this.#dims;
    const matrix = (rows: number, cols: number) =>
      this.#normals.sample(rng.fork(), rows * cols, INIT_STD);
    return {
      q: matrix(hidden, heads * headDim),
      k: matrix(hidden, kvHeads * headDim),
      v: matrix(hidden, kvHeads * headDim),
      o: matrix(heads * headDim, hidden),
      gate: matrix(hidden, intermediate),
      up: matrix(hidden, intermediate),
      down: matrix(intermediate, hidden),
      inputNorm: this.#normWeight(),
      postNorm: this.#normWeight(),
    };
  }

  /** The final norm keeps plain ones: outliers live in the decoder layers. */
  finalNorm(): Float32Array {
    return new Float32Array(this.#dims.hidden).fill(1);
  }

  /** [hidden, vocab]; LLaMA does not tie it to the embedding. */
  lmHead(): Float32Array {
    const { vocab, hidden } = this.#dims;
    return this.#normals.sample(new Rng(this.#lmHeadSeed), hidden * vocab, INIT_STD);
  }

  #normWeight(): Float32Array {
    const weight = new Float32Array(this.#dims.hidden).fill(1);
    this.outlierChannels.forEach((channel, i) => {
      weight[channel] = this.#outlierGains[i] ?? 1;
    });
    return weight;
  }
}

function pickChannels(rng: Rng, hidden: number, count: number): number[] {
  const channels = Array.from({ length: hidden }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + rng.int(hidden - i);
    [channels[i], channels[j]] = [channels[j] as number, channels[i] as number];
  }
  return channels.slice(0, count).sort((a, b) => a - b);
}

/**
 * Normal draws fast enough for the 1b preset's 850 M weights (~70 M/s, where `Rng.normals`'
 * Box–Muller manages ~18 M/s): i.i.d. picks from a fixed table of 65,536 standard normals,
 * two 16-bit indices per xoshiro128** step.
 */
class NormalTable {
  readonly #table: Float32Array;

  constructor(rng: Rng) {
    this.#table = rng.normals(1 << 16);
  }

  sample(rng: Rng, count: number, std: number): Float32Array {
    const scaled = this.#table.map((x) => x * std);
    const out = new Float32Array(count);
    let a = rng.nextUint32() | 0;
    let b = rng.nextUint32() | 1; // xoshiro128** must not start from all-zero state
    let c = rng.nextUint32() | 0;
    let d = rng.nextUint32() | 0;
    for (let i = 0; i < count; i += 2) {
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
      if (i + 1 < count) out[i + 1] = scaled[bits >>> 16] as number;
    }
    return out;
  }
}
