import { createHash } from "node:crypto";
import type { PassRandom } from "../plugin/types.js";

/**
 * A pass's random source: xoshiro128** seeded from sha256(recipe seed, pass id, input digest).
 * A rerun draws the same numbers, and everything the stream depends on is part of the step's
 * cache key, so a cached output is the one a fresh run would make.
 */
export function createPassRandom(seed: number, passId: string, inputDigest: string): PassRandom {
  const digest = createHash("sha256").update(`${seed}\u0000${passId}\u0000${inputDigest}`).digest();
  let [a, b, c, d] = [0, 4, 8, 12].map((offset) => digest.readUInt32LE(offset)) as [
    number,
    number,
    number,
    number,
  ];
  if ((a | b | c | d) === 0) a = 1;
  let spareNormal: number | undefined;

  const nextUint32 = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result;
  };
  const uniform = (): number => nextUint32() / 2 ** 32;
  const normal = (): number => {
    if (spareNormal !== undefined) {
      const value = spareNormal;
      spareNormal = undefined;
      return value;
    }
    // Box–Muller; 1 - uniform() is in (0, 1], so the logarithm is finite.
    const radius = Math.sqrt(-2 * Math.log(1 - uniform()));
    const angle = 2 * Math.PI * uniform();
    spareNormal = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };
  return { uniform, normal, nextUint32 };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
