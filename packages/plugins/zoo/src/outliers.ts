import type { SeededRandom } from "@lathe/core";

/** Norm weights of planted outlier channels (the others are 1). */
const GAIN_MIN = 15;
const GAIN_MAX = 30;

/**
 * Hidden channels planted with large norm weights (LayerNorm or RMSNorm gamma of 15–30, the
 * others 1): the normalized activations entering the next projections then carry the large,
 * channel-consistent outliers of trained LLMs that activation quantization has to survive.
 */
export class OutlierChannels {
  /** The chosen channels, ascending. */
  readonly channels: readonly number[];
  readonly #hidden: number;
  readonly #gains: Float32Array;

  constructor(rng: SeededRandom, hidden: number, count: number) {
    this.#hidden = hidden;
    this.channels = distinctChannels(rng, hidden, count);
    this.#gains = rng.uniforms(count, GAIN_MIN, GAIN_MAX);
  }

  /** A norm weight of ones with the outlier channels at their gains (every norm shares them). */
  normWeight(): Float32Array {
    const weight = new Float32Array(this.#hidden).fill(1);
    this.channels.forEach((channel, i) => {
      weight[channel] = this.#gains[i] ?? 1;
    });
    return weight;
  }
}

/** `count` distinct channels below `hidden` by a partial Fisher–Yates shuffle, ascending. */
function distinctChannels(rng: SeededRandom, hidden: number, count: number): number[] {
  const channels = Array.from({ length: hidden }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + rng.int(hidden - i);
    [channels[i], channels[j]] = [channels[j] as number, channels[i] as number];
  }
  return channels.slice(0, count).sort((a, b) => a - b);
}
