import { SeededRandom } from "@lathe/core";
import { OutlierChannels } from "../outliers.js";
import type { LlamaDims } from "./llama-config.js";

/** transformers' LlamaPreTrainedModel._init_weights: N(0, initializer_range = 0.02) for Linear and Embedding. */
const INIT_STD = 0.02;

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
  readonly #outliers: OutlierChannels;
  readonly #dims: LlamaDims;
  readonly #embedSeed: number;
  readonly #layerSeeds: number[];
  readonly #lmHeadSeed: number;

  constructor(dims: LlamaDims, seed: number) {
    this.#dims = dims;
    const root = new SeededRandom(seed);
    const outlierRng = root.fork();
    this.#embedSeed = root.nextUint32();
    this.#layerSeeds = Array.from({ length: dims.layers }, () => root.nextUint32());
    this.#lmHeadSeed = root.nextUint32();
    this.#outliers = new OutlierChannels(outlierRng, dims.hidden, dims.outliers);
    this.outlierChannels = this.#outliers.channels;
  }

  /** [vocab, hidden] */
  embedding(): Float32Array {
    const { vocab, hidden } = this.#dims;
    return new SeededRandom(this.#embedSeed).fastNormals(vocab * hidden, INIT_STD);
  }

  layer(index: number): LlamaLayerWeights {
    const seed = this.#layerSeeds[index];
    if (seed === undefined) throw new RangeError(`no decoder layer ${index}`);
    const rng = new SeededRandom(seed);
    const { hidden, heads, kvHeads, headDim, intermediate } = this.#dims;
    const matrix = (rows: number, cols: number) => rng.fork().fastNormals(rows * cols, INIT_STD);
    return {
      q: matrix(hidden, heads * headDim),
      k: matrix(hidden, kvHeads * headDim),
      v: matrix(hidden, kvHeads * headDim),
      o: matrix(heads * headDim, hidden),
      gate: matrix(hidden, intermediate),
      up: matrix(hidden, intermediate),
      down: matrix(intermediate, hidden),
      inputNorm: this.#outliers.normWeight(),
      postNorm: this.#outliers.normWeight(),
    };
  }

  /** The final norm keeps plain ones: outliers live in the decoder layers. */
  finalNorm(): Float32Array {
    return new Float32Array(this.#dims.hidden).fill(1);
  }

  /** [hidden, vocab]; LLaMA does not tie it to the embedding. */
  lmHead(): Float32Array {
    const { vocab, hidden } = this.#dims;
    return new SeededRandom(this.#lmHeadSeed).fastNormals(hidden * vocab, INIT_STD);
  }
}
