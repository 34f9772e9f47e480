import {
  AttributeType,
  attr,
  createBuilder,
  DataType,
  decodeModel,
  encodeModel,
  Graph,
  isAttributeRef,
  type Model,
  OnnxFunction,
} from "@lathe/core";
import { runFloats } from "@lathe/core/testing";
import { describe, expect, it } from "vitest";
import { snapshotFunction } from "../fixtures/model-snapshot.js";

/**
 * `local::ScaledAdd(x, y) = x + alpha * y + beta`: `alpha` must be given by the caller, `beta`
 * defaults to 2. Both reach the body through attribute references on Constant nodes.
 */
function scaledAdd(): OnnxFunction {
  // A FunctionProto has no graph name: the body is named after the function, as decoding does.
  const body = createBuilder({ namePrefix: "scaled_add", graph: new Graph({ name: "ScaledAdd" }) });
  const x = body.input("x", DataType.FLOAT);
  const y = body.input("y", DataType.FLOAT);
  const alpha = body.node(
    "Constant",
    [],
    [{ name: "value_float", type: AttributeType.FLOAT, refAttrName: "alpha" }],
  );
  const beta = body.node(
    "Constant",
    [],
    [{ name: "value_float", type: AttributeType.FLOAT, refAttrName: "beta" }],
  );
  body.output(body.Add(body.Add(x, body.Mul(y, alpha.output)), beta.output), "out");
  const fn = new OnnxFunction({
    domain: "local",
    name: "ScaledAdd",
    graph: body.graph,
    attributes: ["alpha"],
    attributeDefaults: [attr.float("beta", 2)],
    opsetImports: [["", 21]],
    docString: "x + alpha * y + beta",
  });
  fn.metadataProps.set("origin", "test");
  return fn;
}

function modelCallingScaledAdd(): Model {
  const b = createBuilder({ opsets: { local: 1 } });
  const x = b.input("x", DataType.FLOAT, [3]);
  const y = b.input("y", DataType.FLOAT, [3]);
  b.output(
    b.node("ScaledAdd", [x, y], { alpha: 0.5 }, { domain: "local" }).output,
    "with_default",
    DataType.FLOAT,
    [3],
  );
  b.output(
    b.node("ScaledAdd", [x, y], { alpha: 3, beta: -1 }, { domain: "local" }).output,
    "with_beta",
    DataType.FLOAT,
    [3],
  );
  const model = b.build();
  const fn = scaledAdd();
  model.functions.set(fn.key, fn);
  return model;
}

describe("model-local functions", () => {
  it("keep their signature, attribute references and defaults through encode and decode", () => {
    const model = modelCallingScaledAdd();
    const decoded = decodeModel(encodeModel(model));
    expect([...decoded.functions.keys()]).toEqual(["local::ScaledAdd"]);
    const fn = decoded.functions.get("local::ScaledAdd")!;
    expect(snapshotFunction(fn)).toEqual(
      snapshotFunction(model.functions.get("local::ScaledAdd")!),
    );

    const refs = fn.graph
      .nodes()
      .flatMap((n) => [...n.attributes.values()])
      .filter(isAttributeRef)
      .map((a) => [a.name, a.refAttrName, AttributeType[a.type]]);
    expect(refs).toEqual([
      ["value_float", "alpha", "FLOAT"],
      ["value_float", "beta", "FLOAT"],
    ]);
    expect(fn.attributes).toEqual(["alpha"]);
    expect(fn.attributeDefaults).toEqual([{ name: "beta", type: AttributeType.FLOAT, value: 2 }]);
    expect(fn.graph.inputs.map((v) => v.name)).toEqual(["x", "y"]);
    expect(fn.graph.outputs.map((v) => v.name)).toEqual(["out"]);
    expect(decoded.opset("local")).toBe(1);
    expect(decoded.graph.nodes().map((n) => n.qualifiedOp)).toEqual([
      "local::ScaledAdd",
      "local::ScaledAdd",
    ]);
    // The body counts among the model's nodes.
    expect([...decoded.allNodes()].filter((n) => n.opType === "Constant")).toHaveLength(2);
  });

  it("run on ORT with the right numbers, before and after a round trip", async () => {
    const model = modelCallingScaledAdd();
    const feeds = {
      x: { data: Float32Array.from([1, 2, 3]), dims: [3] },
      y: { data: Float32Array.from([10, 20, -30]), dims: [3] },
    };
    const bytes = encodeModel(model);
    const out = await runFloats(bytes, feeds);
    expect(Array.from(out.with_default!)).toEqual([8, 14, -10]); // x + 0.5y + 2
    expect(Array.from(out.with_beta!)).toEqual([30, 61, -88]); // x + 3y - 1
    const again = await runFloats(encodeModel(decodeModel(bytes)), feeds);
    expect(again).toEqual(out);
  });

  it("are keyed by domain, name and overload", () => {
    const fn = new OnnxFunction({ domain: "d", name: "F", overload: "v2" });
    expect(fn.key).toBe("d::F::v2");
    expect(fn.graph.name).toBe("F");
  });
});
