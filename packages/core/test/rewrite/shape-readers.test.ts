import { randomFloats, runFloats } from "@lathe/core/testing";
import { describe, expect, it } from "vitest";
import {
  applyRewriteRules,
  type Builder,
  createBuilder,
  DataType,
  decodeModel,
  defineRule,
  encodeModel,
  formatTrace,
  type Model,
  patterns,
  type Value,
} from "../../src/index.js";

const { op, v, c } = patterns;

/**
 * Mul(MatMul(a, Transpose(b)), s) → MatMul(Mul(a, s), Transpose(b)): the rewrite removes the
 * scores `a·bᵀ` and the Transpose, which extra readers below read in various ways.
 */
const scaleFirst = defineRule({
  name: "scale-first",
  pattern: op("Mul", [
    op("MatMul", [v("a"), op("Transpose", [v("b")], { attributes: { perm: [0, 2, 1] } })]),
    c("s"),
  ]),
  rewrite: (match, _data, { builder: b }) =>
    new Map([
      [
        match.root,
        b.MatMul(
          b.Mul(match.value("a"), match.value("s")),
          b.Transpose(match.value("b"), { perm: [0, 2, 1] }),
        ),
      ],
    ]),
});

type Reader = (b: Builder, scores: Value, keysT: Value, y: Value) => Value;

/** y = Mul(MatMul(a, Transpose(b)), 0.5) with `reader` adding a second output z. */
function model(reader: Reader, options: { shapeless?: boolean } = {}): Model {
  const b = createBuilder({ opset: 17 });
  const a = options.shapeless
    ? b.input("a", DataType.FLOAT)
    : b.input("a", DataType.FLOAT, ["batch", "rows", 4]);
  const keys = b.input("b", DataType.FLOAT, ["batch", "cols", 4]);
  const keysT = b.Transpose(keys, { perm: [0, 2, 1] });
  const scores = b.MatMul(a, keysT);
  const y = b.Mul(scores, b.scalar(0.5));
  b.output(y, "y");
  b.output(reader(b, scores, keysT, y), "z");
  return b.build();
}

const feeds = {
  a: { data: randomFloats(2 * 3 * 4, 1), dims: [2, 3, 4] },
  b: { data: randomFloats(2 * 5 * 4, 2), dims: [2, 5, 4] },
};

const shapeReaders: [string, Reader][] = [
  ["Shape feeding Reshape", (b, scores, _k, y) => b.Reshape(y, b.Shape(scores))],
  [
    "Shape with start/end feeding Expand",
    (b, scores) => b.Expand(b.scalar(1), b.Shape(scores, { start: 1, end: 3 })),
  ],
  ["Size", (b, scores) => b.Cast(b.Size(scores), { to: DataType.FLOAT })],
  [
    "shape arithmetic feeding Slice",
    (b, scores, _k, y) => {
      const cols = b.Gather(b.Shape(scores), b.int64s([2]), { axis: 0 });
      const half = b.Div(cols, b.int64s([2]));
      return b.Slice(y, b.int64s([0]), half, b.int64s([2]));
    },
  ],
  [
    "Shape of the removed Transpose feeding Expand",
    (b, _s, keysT) => b.Expand(b.scalar(2), b.Shape(keysT)),
  ],
];

async function run(m: Model) {
  return runFloats(encodeModel(m), feeds);
}

describe("readers that need only a shape do not block a rewrite", () => {
  it.each(shapeReaders)(
    "%s: rewired to a shape computed from the inputs",
    async (_name, reader) => {
      const original = model(reader);
      const rewritten = decodeModel(encodeModel(original));
      const report = applyRewriteRules(rewritten, [scaleFirst]);
      expect(report.fused).toEqual({ "scale-first": 1 });
      const lines = formatTrace(report.trace);
      expect(lines[0]).toBe(`Mul "Mul": fused by scale-first`);
      expect(lines[1]).toMatch(
        /^ {2}scale-first: rewired (Shape|Size) ".*" \(it reads only the shape of ".*"\): the shape is computed from the inputs$/,
      );
      // the scores are gone: no MatMul reads the input a any more
      expect(rewritten.graph.inputs[0]!.uses().some((u) => u.node.opType === "MatMul")).toBe(false);
      const [before, after] = [await run(original), await run(rewritten)];
      expect([...after.z!]).toEqual([...before.z!]);
      const close = before.y!.every((x, i) => Math.abs(x - after.y![i]!) <= 1e-6);
      expect(close).toBe(true);
    },
  );

  it("declines a reader of the values, saying which", () => {
    const m = model((b, scores) => b.ReduceSum(scores, { keepdims: 0 }));
    const report = applyRewriteRules(m, [scaleFirst]);
    expect(report.modified).toBe(false);
    expect(Object.keys(report.declined)).toEqual([
      `"MatMul_output_0" (output of MatMul "MatMul") has another consumer outside the pattern: ReduceSum "ReduceSum"`,
    ]);
  });

  it("declines when the shape cannot be computed (an input of unknown rank)", () => {
    const m = model((b, scores, _k, y) => b.Reshape(y, b.Shape(scores)), { shapeless: true });
    const report = applyRewriteRules(m, [scaleFirst]);
    expect(report.modified).toBe(false);
    expect(Object.keys(report.declined)[0]).toMatch(
      /is read by Shape "Shape", and the ranks of the inputs of MatMul "MatMul" are unknown/,
    );
  });
});
