import {
  AttributeType,
  attr,
  checkModel,
  createBuilder,
  DataType,
  encodeModel,
  inlineFunctions,
  type Model,
  Node,
  OnnxFunction,
} from "@lathe/core";
import { randomFloats, runFloats } from "@lathe/core/testing";
import { describe, expect, it } from "vitest";

/**
 * local::Scale(x, w, lo?) <alpha = 2> = Clip(MatMul(x, w) · alpha, lo): a weight as a parameter,
 * an attribute reference with a default, an optional input. local::Outer(x, w) calls Scale.
 */
function scaleFunction(): OnnxFunction {
  const body = createBuilder({ opset: 18 });
  const x = body.input("x", DataType.FLOAT);
  const w = body.input("w", DataType.FLOAT);
  const lo = body.input("lo", DataType.FLOAT);
  const alpha = new Node({
    opType: "Constant",
    name: "alpha",
    outputs: ["alpha_value"],
    attributes: [{ name: "value_float", type: AttributeType.FLOAT, refAttrName: "alpha" }],
  });
  body.graph.append(alpha);
  const scaled = body.Mul(body.MatMul(x, w), alpha.output);
  body.output(body.Clip(scaled, lo), "y");
  return new OnnxFunction({
    domain: "local",
    name: "Scale",
    graph: body.graph,
    attributeDefaults: [attr.float("alpha", 2)],
    opsetImports: [["", 18]],
  });
}

function outerFunction(): OnnxFunction {
  const body = createBuilder({ opset: 18, opsets: { local: 1 } });
  const x = body.input("x", DataType.FLOAT);
  const w = body.input("w", DataType.FLOAT);
  body.output(body.op("Scale", [x, w], { alpha: 0.25 }, { domain: "local" }), "z");
  return new OnnxFunction({
    domain: "local",
    name: "Outer",
    graph: body.graph,
    opsetImports: [
      ["", 18],
      ["local", 1],
    ],
  });
}

function model(): Model {
  const b = createBuilder({ opset: 18, opsets: { local: 1 } });
  const x = b.input("x", DataType.FLOAT, [2, 3]);
  const w = b.constant(randomFloats(12, 3), [3, 4], DataType.FLOAT, "w");
  const lo = b.scalar(0);
  const call = (inputs: Parameters<typeof b.op>[1], attrs: Record<string, unknown>, name: string) =>
    b.op("Scale", inputs, attrs, { domain: "local", name });
  b.output(call([x, w], { alpha: 0.5 }, "first"), "a", DataType.FLOAT, [2, 4]);
  b.output(call([x, w, lo], {}, "second"), "b", DataType.FLOAT, [2, 4]);
  b.output(b.op("Outer", [x, w], {}, { domain: "local", name: "outer" }), "c");
  const built = b.build();
  for (const fn of [scaleFunction(), outerFunction()]) built.functions.set(fn.key, fn);
  return built;
}

const feeds = { x: { data: randomFloats(6, 9), dims: [2, 3] } };

describe("inlineFunctions", () => {
  it("replaces every call by the body (attribute refs, defaults, omitted inputs, nested calls); ORT agrees", async () => {
    const original = model();
    const expected = await runFloats(encodeModel(original), feeds);
    const inlined = model();
    const report = inlineFunctions(inlined);
    expect(report.calls).toBe(4); // first, second, outer, and the Scale inside Outer
    expect([...report.functions].sort()).toEqual(["local::Outer", "local::Scale"]);
    expect([...report.refused]).toEqual([]);
    expect(inlined.functions.size).toBe(0);
    expect([...inlined.graph].some((n) => n.domain === "local")).toBe(false);
    expect(inlined.graph.outputs.map((o) => o.name)).toEqual(["a", "b", "c"]);
    // the attribute reference took the call's value, or the function's default
    const alphas = [...inlined.graph]
      .filter((n) => n.opType === "Constant" && n.attributes.has("value_float"))
      .map((n) => n.getFloat("value_float"));
    expect(alphas.sort()).toEqual([0.25, 0.5, 2]);
    const check = checkModel(inlined);
    expect(check.errors, JSON.stringify(check.findings)).toBe(0);
    const actual = await runFloats(encodeModel(inlined), feeds);
    for (const name of ["a", "b", "c"]) expect(actual[name]).toEqual(expected[name]);
    // the first call clips at nothing, the second at 0: the omitted input stayed omitted
    expect(expected.a!.some((v) => v < 0)).toBe(true);
    expect(expected.b!.every((v) => v >= 0)).toBe(true);
  });

  it("inlines only the selected functions and keeps the others with their calls", () => {
    const m = model();
    const report = inlineFunctions(m, { select: (fn) => fn.name === "Outer" });
    expect(report.functions).toEqual(["local::Outer"]);
    expect(m.functions.has("local::Scale")).toBe(true);
    expect(m.functions.has("local::Outer")).toBe(false);
    expect([...m.graph].filter((n) => n.opType === "Scale")).toHaveLength(3);
  });

  it("refuses, with the reason, a body with control flow and a body importing another opset", () => {
    const m = model();
    const scale = m.functions.get("local::Scale")!;
    scale.opsetImports.set("", 17);
    const outer = m.functions.get("local::Outer")!;
    const thenB = createBuilder({ namePrefix: "t" });
    thenB.output(thenB.Identity(outer.graph.inputs[0]!), "t_out");
    const elseB = createBuilder({ namePrefix: "e" });
    elseB.output(elseB.Identity(outer.graph.inputs[0]!), "e_out");
    const flag = outer.graph.addInitializer(
      createBuilder().constant([1], [], DataType.BOOL).constValue!,
      "flag",
    );
    outer.graph.append(
      new Node({
        opType: "If",
        name: "branch",
        inputs: [flag],
        outputs: ["branched"],
        attributes: [
          attr.graph("then_branch", thenB.graph),
          attr.graph("else_branch", elseB.graph),
        ],
      }),
    );
    const report = inlineFunctions(m);
    expect(report.calls).toBe(0);
    expect(report.refused.get("local::Scale")).toMatch(/imports "ai.onnx" 17, the model 18/);
    expect(report.refused.get("local::Outer")).toMatch(/control flow \(If "branch"\)/);
    expect(m.functions.size).toBe(2);
  });
});
