import { encodeModel, isLatheError, type Model } from "@lathe/core";
import { expect } from "vitest";
import { floats } from "./graph.js";

/** What building throws, as `CODE message`, or "built" when it does not throw. */
export function buildError(build: () => unknown): string {
  try {
    build();
  } catch (error) {
    return isLatheError(error) ? `${error.code} ${error.message}` : String(error);
  }
  return "built";
}

/** The same seed gives the same bytes; another seed gives other bytes. */
export function expectDeterministic(build: (seed: number) => Model, seed: number): void {
  const first = Buffer.from(encodeModel(build(seed)));
  expect(Buffer.from(encodeModel(build(seed))).equals(first)).toBe(true);
  expect(Buffer.from(encodeModel(build(seed + 1))).equals(first)).toBe(false);
}

/** Every named norm weight is large exactly at `channels` (the planted outliers). */
export function expectOutlierNorms(model: Model, norms: readonly string[], channels: number[]) {
  expect(channels.length).toBeGreaterThan(0);
  for (const name of norms) {
    const weight = floats(model, name);
    const large = [...weight.keys()].filter((c) => (weight[c] ?? 0) > 10);
    expect(large, name).toEqual(channels);
  }
}
