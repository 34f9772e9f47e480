import { describe, expect, it } from "vitest";
import {
  accept,
  applyRewriteRules,
  createBuilder,
  DataType,
  decline,
  defineRule,
  encodeModel,
  formatTrace,
  isMatch,
  type Model,
  matchPattern,
  patterns,
} from "../../src/index.js";

const { op, v, c, optional } = patterns;

/** y = Relu(Add(Mul(x, 2), b)) with an optional Cast, the toy fusion target. */
function model(
  options: { factor?: number; extraReader?: boolean; swap?: boolean; cast?: boolean } = {},
): Model {
  const b = createBuilder({ opset: 17 });
  const x = b.input("x", DataType.FLOAT, [4]);
  const bias = b.input("bias", DataType.FLOAT, [4]);
  const two = b.scalar(options.factor ?? 2);
  let scaled = options.swap ? b.Mul(two, x) : b.Mul(x, two);
  if (options.cast) scaled = b.Cast(scaled, { to: DataType.FLOAT });
  const sum = b.Add(scaled, bias);
  b.output(b.Relu(sum), "y", DataType.FLOAT);
  if (options.extraReader) b.output(b.Neg(scaled), "z", DataType.FLOAT);
  return b.build();
}

const doubleAddRelu = defineRule<number>({
  name: "double-add-relu",
  pattern: op(
    "Relu",
    [
      op(
        "Add",
        [
          optional(op("Cast", [op("Mul", [v("x"), c("factor")], { commutative: true })])),
          v("bias"),
        ],
        { commutative: true },
      ),
    ],
    { capture: "relu" },
  ),
  anchor: "relu",
  check: (match) => {
    const factor = Number(match.constant("factor").toArray()[0]);
    return factor === 2 ? accept(factor) : decline(`the factor is ${factor}, not 2`);
  },
  rewrite: (match, _factor, { builder: b }) =>
    new Map([
      [match.root, b.Relu(b.Add(b.Add(match.value("x"), match.value("x")), match.value("bias")))],
    ]),
});

describe("pattern rewriter", () => {
  it("matches with commutative inputs and optional nodes, and binds captures", () => {
    for (const options of [{}, { swap: true }, { cast: true }]) {
      const m = model(options);
      const relu = m.graph.nodes().find((n) => n.opType === "Relu")!;
      const result = matchPattern(doubleAddRelu.pattern, relu.output);
      expect(isMatch(result), JSON.stringify(options)).toBe(true);
      if (isMatch(result)) expect(result.value("x").name).toBe("x");
    }
  });

  it("reports the deepest failure when the structure differs", () => {
    const b = createBuilder();
    const x = b.input("x", DataType.FLOAT, [4]);
    const relu = b.Relu(b.Sub(x, x));
    const result = matchPattern(doubleAddRelu.pattern, relu);
    expect(isMatch(result)).toBe(false);
    if (!isMatch(result)) expect(result.reason).toMatch(/expected Add, found Sub/);
  });

  it("rewrites, removes the matched nodes and traces the anchor", () => {
    const m = model();
    const report = applyRewriteRules(m, [doubleAddRelu]);
    expect(report.modified).toBe(true);
    expect(report.fused).toEqual({ "double-add-relu": 1 });
    expect(m.graph.nodes().map((n) => n.opType)).toEqual(["Add", "Add", "Relu"]);
    expect(m.graph.outputs[0]?.name).toBe("y");
    expect(formatTrace(report.trace)).toEqual([`Relu "Relu": fused by double-add-relu`]);
    expect(() => encodeModel(m)).not.toThrow();
    // idempotent: the new Relu does not match again
    expect(applyRewriteRules(m, [doubleAddRelu]).fused).toEqual({});
  });

  it("declines with the check's reason, and when an intermediate has another reader", () => {
    const wrongFactor = applyRewriteRules(model({ factor: 3 }), [doubleAddRelu]);
    expect(wrongFactor.modified).toBe(false);
    expect(wrongFactor.declined).toEqual({ "the factor is 3, not 2": 1 });
    // a later rule whose pattern does not even match does not hide the telling reason
    const reluOfSigmoid = defineRule({
      name: "relu-of-sigmoid",
      pattern: op("Relu", [op("Sigmoid", [v("x")])], { capture: "relu" }),
      anchor: "relu",
      rewrite: (match) => new Map([[match.root, match.value("x")]]),
    });
    const both = applyRewriteRules(model({ factor: 3 }), [doubleAddRelu, reluOfSigmoid]);
    expect(both.declined).toEqual({ "the factor is 3, not 2": 1 });
    expect(both.trace[0]?.outcomes.map((o) => o.rule)).toEqual([
      "double-add-relu",
      "relu-of-sigmoid",
    ]);

    const shared = model({ extraReader: true });
    const before = shared.graph.nodeCount;
    const report = applyRewriteRules(shared, [doubleAddRelu]);
    expect(report.modified).toBe(false);
    expect(Object.keys(report.declined)[0]).toMatch(
      /output of Mul "Mul"\) has another consumer outside the pattern: Neg/,
    );
    expect(shared.graph.nodeCount).toBe(before);
  });

  it("skips anchors the caller excludes", () => {
    const report = applyRewriteRules(model(), [doubleAddRelu], { skip: () => "excluded" });
    expect(report.trace[0]?.skipped).toBe("excluded");
    expect(report.modified).toBe(false);
  });
});
