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
  const loop = b.node("Loop", [b.int64s([2]), undefined], { body: body.graph }, { outputs: 2 });
  b.output(loop.output, "z", DataType.FLOAT);
  // w = Scan over the rows of x { sum += row; Neg(row) }, with its per-output axes listed
  const scanBody = createBuilder({ namePrefix: "scan" });
  const sum = scanBody.input("sum", DataType.FLOAT, [3]);
  const row = scanBody.input("row", DataType.FLOAT, [3]);
  scanBody.output(scanBody.Add(sum, row), "sum_out", DataType.FLOAT, [3]);
  const negRow = scanBody.Neg(row);
  scanBody.output(scanBody.Identity(negRow), "neg_out", DataType.FLOAT, [3]);
  const scan = b.node(
    "Scan",
    [b.constant([0, 0, 0], [3]), x],
    {
      body: scanBody.graph,
      num_scan_inputs: 1,
      scan_output_axes: [0],
      scan_output_directions: [0],
    },
    { outputs: 2 },
  );
  b.output(scan.outputs[1]!, "w", DataType.FLOAT);
  // an If inside the Loop body: its values cannot be stacked
  const inLoopThen = createBuilder({ namePrefix: "in_loop_then" });
  const inLoop = inLoopThen.Sqrt(x);
  inLoopThen.output(inLoop, "in_loop_then_y");
  const inLoopElse = createBuilder({ namePrefix: "in_loop_else" });
  inLoopElse.output(inLoopElse.Identity(x), "in_loop_else_y");
  body.output(body.If(c1, { then_branch: inLoopThen.graph, else_branch: inLoopElse.graph }), "q");
  return { model: b.build(), t, u, s, negRow, inLoop };
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

  it("perIteration: Loop and Scan body values stacked over the iterations; an If inside a Loop refused", async () => {
    const { model, s, negRow, inLoop } = nestedModel();
    const before = encodeModel(model);
    const types = new Map([
      [s, DataType.FLOAT],
      [negRow, DataType.FLOAT],
      [inLoop, DataType.FLOAT],
    ]);
    const exposed = exposeValues(model, [s, negRow, inLoop], { types, perIteration: true });
    expect(exposed.refused.get(2)).toMatch(/inside an If branch inside a Loop body/);
    const [sName, negName] = exposed.outputs as string[];
    expect(checkModel(model).errors).toBe(0);
    const out = await run(model, false, false);
    // two iterations of x * 3, stacked
    const triple = Array.from(xs, (v) => Math.fround(v * 3));
    expect(out[sName!]).toEqual([...triple, ...triple]);
    // one Neg(row) per row of x: -x
    expect(out[negName!]).toEqual(Array.from(xs, (v) => Math.fround(-v)));
    exposed.restore();
    expect(encodeModel(model)).toEqual(before);
  });
});
