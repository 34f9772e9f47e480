import type { Model, OrtFeeds } from "@lathe/core";
import {
  float32Tensor,
  floatOutput,
  int64Rows,
  maxAbsDiff,
  openOrtSession,
} from "@lathe/core/testing";
import type * as ort from "onnxruntime-node";
import { expect } from "vitest";
import { argmax } from "./numbers.js";

/** What a decoder's inputs and cache look like, as the zoo's LLMs name them. */
export interface DecoderShape {
  layers: number;
  vocab: number;
  /** Heads of the key/value cache. */
  cacheHeads: number;
  headDim: number;
}

export const ones = (batch: number, length: number): number[][] =>
  Array.from({ length: batch }, () => Array<number>(length).fill(1));

export const arange = (batch: number, from: number, length: number): number[][] =>
  Array.from({ length: batch }, () => Array.from({ length }, (_, i) => from + i));

/** `past_key_values.0.key`, `past_key_values.0.value`, … (or the `present` names). */
export function cacheNames(prefix: "past_key_values" | "present", layers: number): string[] {
  return Array.from({ length: layers }, (_, i) => [
    `${prefix}.${i}.key`,
    `${prefix}.${i}.value`,
  ]).flat();
}

/**
 * A causal LM exported twice, as Optimum and onnxruntime export decoders: without a cache
 * (`prefill`) and with past_key_values inputs and present outputs (`cached`).
 */
export class CausalLm {
  private constructor(
    readonly shape: DecoderShape,
    readonly prefill: ort.InferenceSession,
    readonly cached: ort.InferenceSession,
  ) {}

  static async create(shape: DecoderShape, prefill: Model, cached: Model): Promise<CausalLm> {
    return new CausalLm(shape, await openOrtSession(prefill), await openOrtSession(cached));
  }

  /** All logits, [batch * length * vocab]; positions 0… and an all-ones mask by default. */
  async logits(ids: number[][], positions?: number[][], mask?: number[][]): Promise<Float32Array> {
    const [batch, length] = [ids.length, ids[0]?.length ?? 0];
    const out = await this.prefill.run({
      input_ids: int64Rows(ids),
      attention_mask: int64Rows(mask ?? ones(batch, length)),
      position_ids: int64Rows(positions ?? arange(batch, 0, length)),
    });
    const logits = floatOutput(out, "logits");
    expect(out.logits?.dims).toEqual([batch, length, this.shape.vocab]);
    return logits;
  }

  /** Logits of the last position of each row, [batch][vocab]. */
  async lastLogits(ids: number[][], positions?: number[][], mask?: number[][]) {
    return this.#lastRows(await this.logits(ids, positions, mask), ids.length);
  }

  /** Every `past_key_values.*` input with no past: [batch, heads, 0, head_dim]. */
  emptyPasts(batch: number): OrtFeeds {
    const { cacheHeads, headDim, layers } = this.shape;
    const empty = float32Tensor(new Float32Array(0), [batch, cacheHeads, 0, headDim]);
    return Object.fromEntries(cacheNames("past_key_values", layers).map((name) => [name, empty]));
  }

  /** Changing the token at `position` changes the logits from there on, and none before. */
  async expectCausal(ids: number[], position: number, replacement: number): Promise<void> {
    const { vocab } = this.shape;
    const changed = ids.map((id, i) => (i === position ? replacement : id));
    const [a, b] = [await this.logits([ids]), await this.logits([changed])];
    const cut = position * vocab;
    expect(maxAbsDiff(a.subarray(0, cut), b.subarray(0, cut))).toBeLessThan(1e-6);
    expect(maxAbsDiff(a.subarray(cut), b.subarray(cut))).toBeGreaterThan(1e-3);
  }

  /**
   * Left padding as `generate` feeds it (mask 0 on the pads, position_ids = cumsum(mask) - 1
   * with 1 on the pads) leaves the last logits of the prompt as they are alone; `companion`,
   * an unpadded row as long as the padded one, shares the batch. Not vacuous: attending to the
   * pads changes them.
   */
  async expectLeftPaddingMasked(prompt: number[], pads: number[], companion?: number[]) {
    const rows = [[...pads, ...prompt], ...(companion ? [companion] : [])];
    const length = pads.length + prompt.length;
    const mask = [[...pads.map(() => 0), ...prompt.map(() => 1)], ...ones(rows.length - 1, length)];
    const positions = [
      [...pads.map(() => 1), ...prompt.map((_, i) => i)],
      ...arange(rows.length - 1, 0, length),
    ];
    const [padded] = await this.lastLogits(rows, positions, mask);
    const [alone] = await this.lastLogits([prompt]);
    expect(maxAbsDiff(padded ?? [], alone ?? [])).toBeLessThan(1e-4);
    const [unmasked] = await this.lastLogits(rows, positions);
    expect(maxAbsDiff(unmasked ?? [], alone ?? [])).toBeGreaterThan(1e-3);
  }

  /**
   * Greedy decoding of `steps` tokens twice: with the prefill model re-reading the whole
   * sequence every step, and with the cached model driven as Optimum drives it (the prompt with
   * empty pasts, then one token a step, `present.*` fed back). Expects both to agree on every
   * step's logits and every token, and returns the reference steps' last-position logits.
   */
  async expectCacheAgreesWithPrefill(
    prompts: number[][],
    steps: number,
  ): Promise<Float32Array[][]> {
    const { cacheHeads, headDim, layers } = this.shape;
    const batch = prompts.length;
    const reference = prompts.map((p) => [...p]);
    const referenceLogits: Float32Array[][] = [];
    for (let step = 0; step < steps; step++) {
      const last = await this.lastLogits(reference);
      referenceLogits.push(last);
      last.forEach((row, b) => {
        reference[b]?.push(argmax(row));
      });
    }

    const tokens = prompts.map((p) => [...p]);
    let past = this.emptyPasts(batch);
    let newIds = prompts;
    for (let step = 0; step < steps; step++) {
      const total = tokens[0]?.length ?? 0;
      const pastLength = total - (newIds[0]?.length ?? 0);
      const out = await this.cached.run({
        input_ids: int64Rows(newIds),
        attention_mask: int64Rows(ones(batch, total)),
        position_ids: int64Rows(arange(batch, pastLength, total - pastLength)),
        ...past,
      });
      this.#lastRows(floatOutput(out, "logits"), batch).forEach((row, b) => {
        expect(maxAbsDiff(row, referenceLogits[step]?.[b] ?? [])).toBeLessThan(1e-4);
        tokens[b]?.push(argmax(row));
      });
      past = {};
      for (const name of cacheNames("present", layers)) {
        const present = out[name];
        expect(present?.dims).toEqual([batch, cacheHeads, total, headDim]);
        past[name.replace("present", "past_key_values")] = present as ort.Tensor;
      }
      newIds = tokens.map((t) => [t[t.length - 1] ?? 0]);
    }
    expect(tokens).toEqual(reference);
    return referenceLogits;
  }

  #lastRows(logits: Float32Array, batch: number): Float32Array[] {
    const { vocab } = this.shape;
    const length = logits.length / (batch * vocab);
    return Array.from({ length: batch }, (_, b) =>
      logits.slice(((b + 1) * length - 1) * vocab, (b + 1) * length * vocab),
    );
  }
}
