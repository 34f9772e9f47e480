import { SeededRandom } from "@lathe/core";
import { OutlierChannels } from "../outliers.js";
import type { Gpt2Dims } from "./gpt2-config.js";

/** GPT2Config.initializer_range: N(0, 0.02) for Conv1D, Linear and Embedding weights. */
const INIT_STD = 0.02;

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
  readonly #outliers: OutlierChannels;
  readonly #dims: Gpt2Dims;
  readonly #wteSeed: number;
  readonly #wpeSeed: number;
  readonly #blockSeeds: number[];

  constructor(dims: Gpt2Dims, seed: number) {
    this.#dims = dims;
    const root = new SeededRandom(seed);
    const outlierRng = root.fork();
    this.#wteSeed = root.nextUint32();
    this.#wpeSeed = root.nextUint32();
    this.#blockSeeds = Array.from({ length: dims.layers }, () => root.nextUint32());
    this.#outliers = new OutlierChannels(outlierRng, dims.hidden, dims.outliers);
    this.outlierChannels = this.#outliers.channels;
  }

  /** transformer.wte.weight [vocab, hidden], also the (tied) LM head. */
  tokenEmbedding(): Float32Array {
    const { vocab, hidden } = this.#dims;
    return new SeededRandom(this.#wteSeed).fastNormals(vocab * hidden, INIT_STD);
  }

  /** transformer.wpe.weight [positions, hidden] */
  positionEmbedding(): Float32Array {
    const { positions, hidden } = this.#dims;
    return new SeededRandom(this.#wpeSeed).fastNormals(positions * hidden, INIT_STD);
  }

  block(index: number): Gpt2BlockWeights {
    const seed = this.#blockSeeds[index];
    if (seed === undefined) throw new RangeError(`no transformer block ${index}`);
    const rng = new SeededRandom(seed);
    const { hidden, inner, layers } = this.#dims;
    const residualStd = INIT_STD / Math.sqrt(2 * layers);
    const matrix = (rows: number, cols: number, std: number) =>
      rng.fork().fastNormals(rows * cols, std);
    return {
      ln1Weight: this.#outliers.normWeight(),
      ln1Bias: new Float32Array(hidden),
      attnWeight: matrix(hidden, 3 * hidden, INIT_STD),
      attnBias: new Float32Array(3 * hidden),
      attnProjWeight: matrix(hidden, hidden, residualStd),
      attnProjBias: new Float32Array(hidden),
      ln2Weight: this.#outliers.normWeight(),
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
}
