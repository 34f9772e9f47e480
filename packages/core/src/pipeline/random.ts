import { SeededRandom } from "../random.js";

/**
 * A pass's random source: the seeded generator keyed by sha256(recipe seed, pass id, input
 * digest). A rerun draws the same numbers, and everything the stream depends on is part of the
 * step's cache key, so a cached output is the one a fresh run would make. Code outside passes
 * uses it for any stream keyed by a seed and two names.
 */
export function createPassRandom(seed: number, passId: string, inputDigest: string): SeededRandom {
  return new SeededRandom(`${seed}\u0000${passId}\u0000${inputDigest}`);
}
