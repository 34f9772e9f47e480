import {
  accept,
  applyRewriteRules,
  createBuilder,
  DataType,
  defineRule,
  describeFusedMatMul,
  encodeModel,
  fusedMatMulAttributes,
  fusedMatMulPermutation,
  inferShapes,
  isMatch,
  type Model,
  matchPattern,
  patterns,
  planShape,
  type Value,
} from "@lathe/core";
import { maxAbsDiff, randomFloats, runFloats } from "@lathe/core/testing";
import { describe, expect, it } from "vitest";

const FLAGS = [false, true];
const combos = FLAGS.flatMap((transA) =>
  FLAGS.flatMap((transB) =>
    FLAGS.flatMap((transBatchA) =>
      FLAGS.map((transBatchB) => ({ transA, transB, transBatchA, transBatchB })),
    ),
  ),
);

/** Dims that become `target` under `perm` (a Transpose's: output axis i reads input perm[i]). */
function before(target: readonly number[], perm: readonly number[]): number[] {
  const dims = new Array<number>(target.length);
  perm.forEach((from, i) => {
    dims[from] = target[i]!;
  });
  return dims;
}

function fusedModel(
  dimsA: number[],
  dimsB: number[],
  attributes: Record<string, number>,
): { model: Model; product: Value } {
  const b = createBuilder({ opset: 17 });
  const a = b.input("a", DataType.FLOAT, dimsA);
  const bb = b.input("b", DataType.FLOAT, dimsB);
  const node = b.node("FusedMatMul", [a, bb], attributes, { domain: "com.microsoft" });
  b.output(node.outputs[0]!, "y", DataType.FLOAT);
  return { model: b.build(), product: node.outputs[0]! };
}

/** alpha · MatMul(Transpose(A, permA), Transpose(B, permB)) in standard ops. */
function spelledOut(dimsA: number[], dimsB: number[], permA: number[], permB: number[]) {
  const b = createBuilder({ opset: 17 });
  const a = b.Transpose(b.input("a", DataType.FLOAT, dimsA), { perm: permA });
  const bb = b.Transpose(b.input("b", DataType.FLOAT, dimsB), { perm: permB });
  b.output(b.Mul(b.MatMul(a, bb), b.scalar(0.25)), "y", DataType.FLOAT);
  return b.build();
}

describe("FusedMatMul (com.microsoft) semantics in core", () => {
  it("orders the batch transpose before the last-two-axes one, as ORT's kernel does", () => {
    expect(fusedMatMulPermutation(4, false, false)).toEqual([0, 1, 2, 3]);
    expect(fusedMatMulPermutation(4, true, false)).toEqual([0, 1, 3, 2]);
    expect(fusedMatMulPermutation(4, false, true)).toEqual([1, 2, 0, 3]);
    expect(fusedMatMulPermutation(4, true, true)).toEqual([1, 2, 3, 0]);
    // nn.MultiheadAttention's key: Transpose[1, 2, 0] of a [s, b·n, h] view
    expect(fusedMatMulPermutation(3, true, true)).toEqual([1, 2, 0]);
    expect(fusedMatMulPermutation(1, true, true)).toEqual([0]);
  });

  it.each(combos.flatMap((flags) => [3, 4].map((rank) => [rank, flags] as const)))(
    "rank %i, %o: equals alpha · MatMul of the permuted operands on ORT; shapes inferred",
    async (rank, flags) => {
      const permA = fusedMatMulPermutation(rank, flags.transA, flags.transBatchA);
      const permB = fusedMatMulPermutation(rank, flags.transB, flags.transBatchB);
      // after the permutations: A' = [..batch, 4, 5], B' = [..batch, 5, 6]
      const batch = rank === 4 ? [2, 3] : [3];
      const dimsA = before([...batch, 4, 5], permA);
      const dimsB = before([...batch, 5, 6], permB);
      const attributes = {
        alpha: 0.25,
        transA: Number(flags.transA),
        transB: Number(flags.transB),
        transBatchA: Number(flags.transBatchA),
        transBatchB: Number(flags.transBatchB),
      };
      const { model, product } = fusedModel(dimsA, dimsB, attributes);
      const node = product.producer()!;
      expect(fusedMatMulAttributes(node)).toEqual({ alpha: 0.25, ...flags });
      expect(describeFusedMatMul(fusedMatMulAttributes(node))).toContain(
        `transA=${attributes.transA}`,
      );
      inferShapes(model);
      const type = product.type;
      expect(type?.kind === "tensor" ? type.shape?.dims : undefined).toEqual([...batch, 4, 6]);
      const count = (dims: number[]) => dims.reduce((x, y) => x * y, 1);
      const feeds = {
        a: { data: randomFloats(count(dimsA), 1), dims: dimsA },
        b: { data: randomFloats(count(dimsB), 2), dims: dimsB },
      };
      const fused = await runFloats(encodeModel(model), feeds);
      const reference = await runFloats(encodeModel(spelledOut(dimsA, dimsB, permA, permB)), feeds);
      expect(fused.y!.length).toBe(count([...batch, 4, 6]));
      expect(maxAbsDiff(fused.y!, reference.y!)).toBeLessThanOrEqual(1e-6);
    },
  );

  it.each(combos)(
    "%o: a removed FusedMatMul's shape is rebuilt from its operands' shapes",
    async (flags) => {
      const permA = fusedMatMulPermutation(3, flags.transA, flags.transBatchA);
      const permB = fusedMatMulPermutation(3, flags.transB, flags.transBatchB);
      const dimsA = before([3, 4, 5], permA);
      const dimsB = before([3, 5, 6], permB);
      const b = createBuilder({ opset: 17 });
      const [a, bb] = [b.input("a", DataType.FLOAT, dimsA), b.input("b", DataType.FLOAT, dimsB)];
      const attributes = Object.fromEntries(
        Object.entries(flags).map(([k, on]) => [k, Number(on)]),
      );
      const product = b.node("FusedMatMul", [a, bb], attributes, { domain: "com.microsoft" })
        .outputs[0]!;
      const plan = planShape(product, (value) => value === a || value === bb);
      if (typeof plan === "string") throw new Error(plan);
      b.output(b.Cast(plan(b), { to: DataType.FLOAT }), "shape", DataType.FLOAT);
      const count = (dims: number[]) => dims.reduce((x, y) => x * y, 1);
      const out = await runFloats(encodeModel(b.build()), {
        a: { data: randomFloats(count(dimsA), 1), dims: dimsA },
        b: { data: randomFloats(count(dimsB), 2), dims: dimsB },
      });
      expect([...out.shape!]).toEqual([3, 4, 6]);
    },
  );

  it("a fusedMatMul pattern matches only its own transposition attributes, alpha free", () => {
    const { op, v, anyOf, fusedMatMul } = patterns;
    const pattern = op("Relu", [
      anyOf(
        op("MatMul", [v("a"), v("b")]),
        fusedMatMul([v("a"), v("b")], { transB: true }, { capture: "product" }),
      ),
    ]);
    const build = (transB: number) => {
      const b = createBuilder({ opset: 17 });
      const x = b.input("x", DataType.FLOAT, [4, 4]);
      const node = b.node(
        "FusedMatMul",
        [x, x],
        { alpha: 0.5, transB },
        { domain: "com.microsoft" },
      );
      return b.Relu(node.outputs[0]!);
    };
    const matched = matchPattern(pattern, build(1));
    expect(isMatch(matched) && fusedMatMulAttributes(matched.node("product")).alpha).toBe(0.5);
    const missed = matchPattern(pattern, build(0));
    expect(isMatch(missed)).toBe(false);
    if (!isMatch(missed)) expect(missed.reason).toMatch(/transB is 0 \(this form has transB=1\)/);
  });
});

describe("a rule whose root is an anyOf of ops", () => {
  const { op, v, anyOf, fusedMatMul } = patterns;
  /** Relu(x)·W as MatMul or as FusedMatMul (alpha read in the check), anchored on the Relu. */
  const rule = defineRule<number>({
    name: "relu-product",
    pattern: anyOf(
      op("MatMul", [op("Relu", [v("x")], { capture: "relu" }), v("w")], { capture: "product" }),
      fusedMatMul([op("Relu", [v("x")], { capture: "relu" }), v("w")], {}, { capture: "product" }),
    ),
    anchor: "relu",
    check: (match) => {
      const product = match.node("product");
      return accept(product.opType === "MatMul" ? 1 : fusedMatMulAttributes(product).alpha);
    },
    rewrite: (match, alpha, { builder: b }) =>
      new Map([
        [match.root, b.Mul(b.MatMul(b.Relu(match.value("x")), match.value("w")), b.scalar(alpha))],
      ]),
  });
  const build = (form: "MatMul" | "FusedMatMul" | "Gemm") => {
    const b = createBuilder({ opset: 17 });
    const x = b.input("x", DataType.FLOAT, [2, 4]);
    const w = b.constant(randomFloats(16, 3), [4, 4]);
    const relu = b.Relu(x);
    const product =
      form === "MatMul"
        ? b.MatMul(relu, w)
        : form === "Gemm"
          ? b.Gemm(relu, w)
          : b.node("FusedMatMul", [relu, w], { alpha: 0.5 }, { domain: "com.microsoft" })
              .outputs[0]!;
    b.output(product, "y", DataType.FLOAT);
    return b.build();
  };

  it("tries every alternative's op from the anchor and rewrites either form", async () => {
    for (const form of ["MatMul", "FusedMatMul"] as const) {
      const model = build(form);
      const x = { data: randomFloats(8, 4), dims: [2, 4] };
      const before = await runFloats(encodeModel(model), { x });
      const report = applyRewriteRules(model, [rule]);
      expect(report.fused, form).toEqual({ "relu-product": 1 });
      const after = await runFloats(encodeModel(model), { x });
      expect(maxAbsDiff(before.y!, after.y!)).toBeLessThanOrEqual(1e-6);
    }
  });

  it("names every root op when none reads the anchor", () => {
    const report = applyRewriteRules(build("Gemm"), [rule]);
    expect(report.declined).toEqual({ "no MatMul or FusedMatMul reads it within 1 steps": 1 });
  });
});
