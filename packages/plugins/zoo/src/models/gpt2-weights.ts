import { Rng } from "../random.js";
import type { Gpt2Dims } from "./gpt2-config.js";

/** GPT2Config.initializer_range: N(0, 0.02) for Conv1D, Linear and Embedding weights. */
const INIT_STD = 0.02;

/**
 * LayerNorm weights of planted outlier channels (the others are 1): the normalized activations
 * entering c_attn and c_fc then carry the 15–30× channels that trained LLMs show and that
 * activation quantization has to survive.
 */
const OUTLIER_GAIN_MIN = 15;
const OUTLIER_GAIN_MAX = 30;

/** One block's parameters; Conv1D weights are [in, out] as GPT-2 stores them. */
export interface Gpt2BlockWeights {
  ln1Weight: Float32Array;
  ln1Bias: Float32Array;
  attnWeight: Float32Array;
  attnBias: Float32Array;
  attnProjWeight: Float32Array;
  attnProjBias: Float32Array;
  ln2Weight: Float32Array;
  ln2Bias: Float32Array;
  fcWeight: Float32Array;
  fcBias: Float32Array;
  mlpProjWeight: Float32Array;
  mlpProjBias: Float32Array;
}

/**
 * Deterministic GPT-2 parameters as `GPT2PreTrainedModel._init_weights` draws them: weights
 * N(0, 0.02), the two residual projections (`c_proj`) N(0, 0.02/√(2·n_layer)), biases 0,
 * LayerNorm weight 1 and bias 0. Every tensor has its own seed drawn up front, so values do
 * not depend on the order they are asked for.
 */
export class Gpt2Weights {
  readonly outlierChannels: readonly number[];
  readonly #dims: Gpt2Dims;
  readonly #normals: NormalTable;
  readonly #outlierGains: Float32Array;
  readonly #wteSeed: number;
  readonly #wpeSeed: number;
  readonly #blockSeeds: number[];

  constructor(dims: Gpt2Dims, seed: number) {
    this.#dims = dims;
    const root = new Rng(seed);
    this.#normals = new NormalTable(root.fork());
    const outlierRng = root.fork();
    this.#wteSeed = root.nextUint32();
    this.#wpeSeed = root.nextUint32();
    this.#blockSeeds = Array.from({ length: dims.layers }, () => root.nextUint32());
    this.outlierChannels = pickChannels(outlierRng, dims.hidden, dims.outliers);
    this.#outlierGains = outlierRng.uniforms(dims.outliers, OUTLIER_GAIN_MIN, OUTLIER_GAIN_MAX);
  }

  /** transformer.wte.weight [vocab, hidden], also the (tied) LM head. */
  tokenEmbedding(): Float32Array {
    const { vocab, hidden } = this.#dims;
    return this.#normals.sample(new Rng(this.#wteSeed), vocab * hidden, INIT_STD);
  }

  /** transformer.wpe.weight [positions, hidden] */
  positionEmbedding(): Float32Array {
    const { positions, hidden } = this.#dims;
    return this.#normals.sample(new Rng(this.#wpeSeed), positions * hidden, INIT_STD);
  }

  block(index: number): Gpt2BlockWeights {
    const seed = this.#blockSeeds[index];
    if (seed === undefined) throw new RangeError(`no transformer block ${index}`);
    const rng = new Rng(seed);
    const { hidden, inner, layers } = this.#dims;
    const residualStd = INIT_STD / Math.sqrt(2 * layers);
    const matrix = (rows: number, cols: number, std: number) =>
      this.#normals.sample(rng.fork(), rows * cols, std);
    return {
      ln1Weight: this.#normWeight(),
      ln1Bias: new Float32Array(hidden),
      attnWeight: matrix(hidden, 3 * hidden, INIT_STD),
      attnBias: new Float32Array(3 * hidden),
      attnProjWeight: matrix(hidden, hidden, residualStd),
      attnProjBias: new Float32Array(hidden),
      ln2Weight: this.#normWeight(),
      ln2Bias: new Float32Array(hidden),
      fcWeight: matrix(hidden, inner, INIT_STD),
      fcBias: new Float32Array(inner),
      mlpProjWeight: matrix(inner, hidden, residualStd),
      mlpProjBias: new Float32Array(hidden),
    };
  }

  /** ln_f keeps plain ones: outliers live in the blocks. */
  finalNorm(): { weight: Float32Array; bias: Float32Array } {
    const { hidden } = this.#dims;
    return { weight: new Float32Array(hidden).fill(1), bias: new Float32Array(hidden) };
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
 * Normal draws fast enough for GPT-2 small's 124 M weights (`Rng.normals` runs Box–Muller at
 * ~18 M/s): i.i.d. picks from a fixed table of 65,536 standard normals, two 16-bit indices per
 * step of an inlined xoshiro128**.
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
    let b = rng.nextUint32() | 1; // xoshiro128** must not start from an all-zero state
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
