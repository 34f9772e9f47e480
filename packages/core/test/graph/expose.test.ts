import {
  checkModel,
  createBuilder,
  DataType,
  encodeModel,
  exposeValues,
  type Model,
} from "@lathe/core";
import { boolTensor, float32Tensor, randomFloats, runFloats } from "@lathe/core/testing";
import { describe, expect, it } from "vitest";

/**
 * y = If(c1) { t = Neg(x); If(c2) { u = Abs(t); u * 2 } else { Exp(t) } } else { Sigmoid(x) },
 * plus z = Loop(2) { s = x * 3 } (scan output), so there is a value per iteration too.
 */
function nestedModel() {
  const b = createBuilder({ opset: 18 });
  const x = b.input("x", DataType.FLOAT, [2, 3]);
  const c1 = b.input("c1", DataType.BOOL, []);
  const c2 = b.input("c2", DataType.BOOL, []);
  const outerThen = createBuilder({ namePrefix: "outer_then" });
  const t = outerThen.Neg(x);
  const innerThen = createBuilder({ namePrefix: "inner_then" });
  const u = innerThen.Abs(t);
  // the branch already returns a value: exposing u must not confuse it with the If's output
  innerThen.output(innerThen.Mul(u, innerThen.scalar(2)), "inner_then_y");
  const innerElse = createBuilder({ namePrefix: "inner_else" });
  innerElse.output(innerElse.Exp(t), "inner_else_y");
  outerThen.output(
    outerThen.If(c2, { then_branch: innerThen.graph, else_branch: innerElse.graph }),
    "outer_then_y",
  );
  const outerElse = createBuilder({ namePrefix: "outer_else" });
  outerElse.output(outerElse.Sigmoid(x), "outer_else_y");
  b.output(
    b.If(c1, { then_branch: outerThen.graph, else_branch: outerElse.graph }),
    "y",
    DataType.FLOAT,
  );
  const body = createBuilder({ namePrefix: "body" });
  body.input("i", DataType.INT64, []);
  const keep = body.input("keep", DataType.BOOL, []);
  body.output(body.Identity(keep), "keep_out");
  const s = body.Mul(x, body.scalar(3));
  body.output(s, "s");
  const loop = b.node("Loop", [b.int64s([2]), undefined], { body: body.graph }, { outputs: 1 });
  b.output(loop.output, "z", DataType.FLOAT);
  return { model: b.build(), t, u, s };
}

const xs = randomFloats(6, 4);

async function run(model: Model, c1: boolean, c2: boolean) {
  const results = await runFloats(model, {
    x: float32Tensor(xs, [2, 3]),
    c1: boolTensor([c1], []),
    c2: boolTensor([c2], []),
  });
  return Object.fromEntries(Object.entries(results).map(([name, v]) => [name, Array.from(v)]));
}

describe("exposeValues", () => {
  it("carries values out of nested If branches; an untaken branch returns an empty placeholder", async () => {
    const { model, t, u } = nestedModel();
    // the builder records no types of computed values: say them
    const types = new Map([
      [t, DataType.FLOAT],
      [u, DataType.FLOAT],
    ]);
    const exposed = exposeValues(model, [t, u, t], { types });
    expect(exposed.refused.size).toBe(0);
    const [tName, uName, again] = exposed.outputs as string[];
    // the same value asked twice is carried out once
    expect(again).toBe(tName);
    expect(checkModel(model).errors).toBe(0);
    const neg = Array.from(xs, (v) => Math.fround(-v));
    const abs = Array.from(xs, (v) => Math.abs(v));

    const both = await run(model, true, true);
    expect(both[tName!]).toEqual(neg);
    expect(both[uName!]).toEqual(abs);
    expect(both.y).toEqual(abs.map((v) => v * 2));

    const outerOnly = await run(model, true, false);
    expect(outerOnly[tName!]).toEqual(neg);
    expect(outerOnly[uName!]).toEqual([]);

    const neither = await run(model, false, true);
    expect(neither[tName!]).toEqual([]);
    expect(neither[uName!]).toEqual([]);
    expect(neither.y!.length).toBe(6);
  });

  it("restores the model byte for byte", () => {
    const { model, t, u } = nestedModel();
    const before = encodeModel(model);
    const exposed = exposeValues(model, [u, t], {
      types: new Map([
        [t, DataType.FLOAT],
        [u, DataType.FLOAT],
      ]),
    });
    expect(exposed.refused.size).toBe(0);
    expect(encodeModel(model).length).toBeGreaterThan(before.length);
    exposed.restore();
    expect(encodeModel(model)).toEqual(before);
  });

  it("refuses a value inside a Loop body, and one of unknown element type, with the reason", () => {
    const { model, s, u: untyped } = nestedModel();
    const exposed = exposeValues(model, [s, untyped]);
    expect(exposed.outputs).toEqual([undefined, undefined]);
    expect(exposed.refused.get(0)).toMatch(/inside a Loop body/);
    expect(exposed.refused.get(1)).toMatch(/no known element type/);
    // with the type given, it goes
    const typed = exposeValues(model, [untyped], {
      types: new Map([[untyped, DataType.FLOAT]]),
    });
    expect(typed.refused.size).toBe(0);
    typed.restore();
    exposed.restore();
  });
});
