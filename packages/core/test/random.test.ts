import { createPassRandom, SeededRandom } from "@lathe/core";
import { describe, expect, it } from "vitest";

// The values the two generators gave before they became this one class (the zoo's Rng, seeded
// by number, and the pass random, seeded by sha256): the zoo's weights and every cached pass
// output depend on these streams staying as they are.
describe("SeededRandom", () => {
  it("seeded by a number: the stream the zoo's weights were drawn from", () => {
    const r = new SeededRandom(42);
    expect([r.nextUint32(), r.nextUint32(), r.nextUint32()]).toEqual([
      2837322924, 544945897, 479756282,
    ]);
    expect([r.normal(), r.normal(), r.normal()]).toEqual([
      1.6146212941544271, 0.8758665049590206, 0.23004555062773258,
    ]);
    expect(Array.from(r.uniforms(3, -2, 5))).toEqual([
      -0.18721812963485718, 4.164809703826904, 0.2748972177505493,
    ]);
    expect(Array.from(r.fastNormals(3, 0.5))).toEqual([
      0.2720184326171875, 0.3062283992767334, 0.15983045101165771,
    ]);
    expect(r.fork().nextUint32()).toBe(1233211121);
  });

  it("seeded by a string: the pass streams (sha256 of recipe seed, pass id, input digest)", () => {
    const p = createPassRandom(7, "quantize/static-int8", "abc");
    expect(p).toBeInstanceOf(SeededRandom);
    expect([p.nextUint32(), p.nextUint32()]).toEqual([385705012, 1248153885]);
    expect([p.normal(), p.normal(), p.normal()]).toEqual([
      0.19017699614758374, 0.37680917665551394, -1.1578724613681826,
    ]);
    const same = new SeededRandom("7\u0000quantize/static-int8\u0000abc");
    expect(same.nextUint32()).toBe(385705012);
  });

  it("uniforms, inlined, continue the stream as uniform() would and stay in [lo, hi)", () => {
    const a = new SeededRandom(5);
    const b = new SeededRandom(5);
    const fast = a.uniforms(1000, -3, 2);
    const slow = Float32Array.from({ length: 1000 }, () => -3 + 5 * b.uniform());
    expect(fast).toEqual(slow);
    expect(a.nextUint32()).toBe(b.nextUint32());
    expect(Math.min(...fast)).toBeGreaterThanOrEqual(-3);
    expect(Math.max(...fast)).toBeLessThan(2);
  });

  it("four words are the state; the all-zero state is moved off zero", () => {
    const words = SeededRandom.splitmixState(9);
    expect(new SeededRandom(words).nextUint32()).toBe(new SeededRandom(9).nextUint32());
    const zero = new SeededRandom([0, 0, 0, 0]);
    expect(new Set(Array.from({ length: 8 }, () => zero.nextUint32())).size).toBeGreaterThan(1);
  });

  it("normals have the moments of a standard normal", () => {
    const values = new SeededRandom(1).normals(200_000);
    const mean = values.reduce((s, x) => s + x, 0) / values.length;
    const variance = values.reduce((s, x) => s + (x - mean) ** 2, 0) / values.length;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1)).toBeLessThan(0.01);
  });
});
