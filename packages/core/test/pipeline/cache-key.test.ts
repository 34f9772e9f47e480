import { canonicalJson, SeededRandom, stepCacheKey } from "@lathe/core";
import { describe, expect, it } from "vitest";

/** A small deterministic generator (tests must not depend on Math.random). */
function generator(seed: number) {
  const random = new SeededRandom(seed);
  const next = () => random.uniform();
  const int = (n: number) => Math.floor(next() * n);
  const key = () => ["a", "b", "blockSize", "bits", "x", "é", "10", "z z"][int(8)]! + int(3);
  const value = (depth: number): unknown => {
    switch (int(depth > 2 ? 5 : 7)) {
      case 0:
        return int(1000) - 500;
      case 1:
        return next() * 10;
      case 2:
        return ["", "int4", 'a"b', "ünï"][int(4)];
      case 3:
        return next() < 0.5;
      case 4:
        return null;
      case 5:
        return Array.from({ length: int(4) }, () => value(depth + 1));
      default:
        return object(depth + 1);
    }
  };
  const object = (depth: number): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (let i = depth === 0 ? 3 + int(4) : int(4); i > 0; i--) out[key()] = value(depth);
    return out;
  };
  return { int, next, object };
}

/** The same object with every object's keys inserted in reverse order. */
function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value)
      .reverse()
      .map(([k, v]) => [k, reverseKeys(v)]),
  );
}

/** Every path to a leaf (a scalar, or an empty array or object). */
function leaves(value: unknown, path: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(value) && value.length > 0)
    return value.flatMap((v, i) => leaves(v, [...path, i]));
  if (value !== null && typeof value === "object" && Object.keys(value).length > 0) {
    return Object.entries(value).flatMap(([k, v]) => leaves(v, [...path, k]));
  }
  return [path];
}

/** A different value of a different kind or content, so the change is always a real one. */
function changed(old: unknown): unknown {
  if (typeof old === "number") return old + 1;
  if (typeof old === "string") return `${old}!`;
  if (typeof old === "boolean") return !old;
  if (old === null) return 0;
  if (Array.isArray(old)) return [null];
  return { added: true };
}

function setAt(root: unknown, path: (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let target = copy;
  for (const part of path.slice(0, -1)) target = target[part] as Record<string | number, unknown>;
  target[path.at(-1)!] = value;
  return copy;
}

const key = (options: Record<string, unknown>) =>
  stepCacheKey({
    inputDigest: "d".repeat(64),
    passId: "quantize/weight-only",
    plugin: { name: "@lathe/plugin-quantize", version: "1.0.0" },
    options,
    seed: 0,
    providers: ["cpu"],
    shapes: {},
  });

describe("canonical options hashing", () => {
  const samples = Array.from({ length: 300 }, (_, i) => generator(i + 1).object(0));

  it("does not depend on key order, at any depth", () => {
    let nested = 0;
    for (const options of samples) {
      const reordered = reverseKeys(options) as Record<string, unknown>;
      expect(canonicalJson(reordered)).toBe(canonicalJson(options));
      expect(key(reordered)).toBe(key(options));
      if (JSON.stringify(reordered) !== JSON.stringify(options)) nested++;
    }
    // The property must have been exercised: most samples really changed their key order.
    expect(nested).toBeGreaterThan(100);
  });

  it("changes when any single value changes", () => {
    let checked = 0;
    for (const [i, options] of samples.entries()) {
      const paths = leaves(options).filter((p) => p.length > 0);
      for (const path of paths) {
        const old = path.reduce<unknown>(
          (v, part) => (v as Record<string | number, unknown>)[part],
          options,
        );
        const other = setAt(options, path, changed(old)) as Record<string, unknown>;
        expect(key(other), `sample ${i}, ${path.join(".")}`).not.toBe(key(options));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(500);
  });

  it("round-trips through JSON.parse for JSON data", () => {
    for (const options of samples) {
      expect(JSON.parse(canonicalJson(options))).toEqual(options);
    }
  });

  it("tells apart values JSON would confuse or drop", () => {
    expect(canonicalJson({ a: Number.POSITIVE_INFINITY })).not.toBe(canonicalJson({ a: null }));
    expect(canonicalJson({ a: Number.NaN })).not.toBe(canonicalJson({ a: "NaN" }));
    expect(canonicalJson({ a: 1, b: undefined })).toBe(canonicalJson({ a: 1 }));
    expect(canonicalJson([1, [2, { y: 1, x: 2 }]])).toBe('[1,[2,{"x":2,"y":1}]]');
  });

  it("refuses values that are not plain data", () => {
    expect(() => canonicalJson({ when: new Date(0) })).toThrow(/plain JSON data/);
    expect(() => canonicalJson({ f: () => 1 })).toThrow(/plain JSON data/);
  });

  it("keys on the input digest, pass, plugin version, options, seed and target providers and shapes", () => {
    const base = {
      inputDigest: "a".repeat(64),
      passId: "test/rename-nodes",
      plugin: { name: "p", version: "1.0.0" },
      options: { prefix: "x" },
      seed: 0,
      providers: ["cpu"] as const,
      shapes: {},
    };
    const keys = new Set([
      stepCacheKey(base),
      stepCacheKey({ ...base, inputDigest: "b".repeat(64) }),
      stepCacheKey({ ...base, passId: "test/scale-output" }),
      stepCacheKey({ ...base, plugin: { name: "p", version: "1.0.1" } }),
      stepCacheKey({ ...base, plugin: { name: "q", version: "1.0.0" } }),
      stepCacheKey({ ...base, options: { prefix: "y" } }),
      stepCacheKey({ ...base, seed: 1 }),
      stepCacheKey({ ...base, providers: ["cuda", "cpu"] }),
      stepCacheKey({ ...base, shapes: { input_ids: [1, 8] } }),
    ]);
    expect(keys.size).toBe(9);
    expect(stepCacheKey(base)).toMatch(/^[0-9a-f]{64}$/);
  });
});
