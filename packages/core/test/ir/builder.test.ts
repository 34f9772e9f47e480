import {
  AttributeType,
  attr,
  createBuilder,
  DataType,
  encodeModel,
  Graph,
  type Node,
  Tensor,
  tensorType,
} from "@lathe/core";
import { randomFloats, runFloats } from "@lathe/core/testing";
import { describe, expect, it } from "vitest";

function attributeTypes(node: Node): Record<string, string> {
  return Object.fromEntries([...node.attributes].map(([name, a]) => [name, AttributeType[a.type]]));
}

describe("building a graph", () => {
  it("creates wired, uniquely named nodes, typed inputs and initializers, and ORT computes the expected numbers", async () => {
    const b = createBuilder();
    const x = b.input("x", DataType.FLOAT, ["batch", 3]);
    const wValues = randomFloats(12, 7);
    const w = b.constant(wValues, [3, 4], DataType.FLOAT, "w");
    const bias = b.constant([0.5, -0.5, 1, -1], [4]);
    const h = b.MatMul(x, w);
    const y = b.Relu(b.Add(h, bias));
    const z = b.Relu(y);
    b.output(z, "y", DataType.FLOAT, ["batch", 4]);
    const model = b.build();

    expect(model.graph.nodes().map((n) => [n.name, n.opType])).toEqual([
      ["MatMul", "MatMul"],
      ["Add", "Add"],
      ["Relu", "Relu"],
      ["Relu_1", "Relu"],
    ]);
    expect(h.producer()!.inputs).toEqual([x, w]);
    expect(x.type).toEqual(tensorType(DataType.FLOAT, ["batch", 3]));
    expect(z.name).toBe("y");
    expect(model.graph.outputs).toEqual([z]);
    expect([...model.graph.initializers.keys()]).toEqual(["w", "const"]);
    expect(bias.constValue).toBeInstanceOf(Tensor);
    expect((bias.constValue as Tensor).toArray()).toEqual(Float32Array.from([0.5, -0.5, 1, -1]));
    expect([...model.opsetImports]).toEqual([["", 21]]);

    const xValues = randomFloats(6, 3);
    const { y: got } = await runFloats(encodeModel(model), { x: { data: xValues, dims: [2, 3] } });
    const expected = new Float32Array(8);
    const biasValues = [0.5, -0.5, 1, -1];
    for (let r = 0; r < 2; r++) {
      for (let c = 0; c < 4; c++) {
        let sum = 0;
        for (let k = 0; k < 3; k++) sum += xValues[r * 3 + k]! * wValues[k * 4 + c]!;
        expected[r * 4 + c] = Math.max(0, sum + biasValues[c]!);
      }
    }
    expect(got).toHaveLength(8);
    got!.forEach((v, i) => {
      expect(v).toBeCloseTo(expected[i]!, 5);
    });
  });

  it("prefixes generated names and numbers repeated ones", () => {
    const b = createBuilder({ namePrefix: "/model/layer.0" });
    const x = b.input("x", DataType.FLOAT, [1]);
    b.Relu(b.Relu(x));
    b.node("Identity", [x], {}, { name: "explicit", outputs: ["a", "b"] });
    expect(b.graph.nodes().map((n) => n.name)).toEqual([
      "/model/layer.0/Relu",
      "/model/layer.0/Relu_1",
      "explicit",
    ]);
    expect(b.graph.last!.outputs.map((v) => v.name)).toEqual(["a", "b"]);
    expect(b.graph.first!.output.name).toBe("/model/layer.0/Relu_output_0");
  });

  it("builds into an existing graph", () => {
    const graph = new Graph({ name: "existing" });
    const b = createBuilder({ graph });
    b.Relu(b.input("x", DataType.FLOAT, [1]));
    expect(graph.nodeCount).toBe(1);
    expect(b.graph).toBe(graph);
  });
});

describe("opset tracking", () => {
  it("imports a domain used through b.domain(name, version), and version 1 when none is given", () => {
    const b = createBuilder({ opset: 20, opsets: { "ai.onnx.ml": 3 } });
    const x = b.input("x", DataType.FLOAT, [2, 2]);
    const ms = b.domain("com.microsoft", 1);
    const fused = ms.FusedMatMul(x, x, { alpha: 2 });
    b.node("Custom", [fused], {}, { domain: "my.domain" });
    b.node("Relu", [x], {}, { domain: "ai.onnx" });
    const model = b.build();
    expect(Object.fromEntries(model.opsetImports)).toEqual({
      "": 20,
      "ai.onnx.ml": 3,
      "com.microsoft": 1,
      "my.domain": 1,
    });
    expect(fused.producer()!.domain).toBe("com.microsoft");
    expect(fused.producer()!.qualifiedOp).toBe("com.microsoft::FusedMatMul");
    expect(model.graph.last!.domain).toBe("");
    expect(model.opset("ai.onnx")).toBe(20);
  });

  it("a contrib op built this way runs on ORT", async () => {
    const b = createBuilder();
    const x = b.input("x", DataType.FLOAT, [2, 2]);
    b.output(b.domain("com.microsoft", 1).FusedMatMul(x, x, { alpha: 2 }), "y");
    const data = Float32Array.from([1, 2, 3, 4]);
    const { y } = await runFloats(encodeModel(b.build()), { x: { data, dims: [2, 2] } });
    // 2 · (x @ x) = 2 · [[7, 10], [15, 22]]
    expect(Array.from(y!)).toEqual([14, 20, 30, 44]);
  });
});

describe("attribute inference", () => {
  it("infers ints, floats, strings, lists, tensors and graphs", () => {
    const b = createBuilder();
    const x = b.input("x", DataType.FLOAT, [1]);
    const body = new Graph({ name: "body" });
    const node = b.node("AnyOp", [x], {
      axis: -1,
      big: 2n ** 62n,
      ratio2: 0.25,
      whole_float: 2.0,
      negative_zero: -0,
      mode: "constant",
      perm: [0, 2, 1],
      scales: [1, 1.5],
      mixed_ints: [1n, 2],
      names: ["a", "b"],
      empty: [],
      value: Tensor.fromArray(DataType.FLOAT, [1], [3]),
      body,
      explicit: attr.floats("ignored_name", [1, 2]),
      skipped: undefined,
    });
    expect(attributeTypes(node)).toEqual({
      axis: "INT",
      big: "INT",
      ratio2: "FLOAT",
      whole_float: "INT", // a JS number cannot tell 2.0 from 2: use attr.float or a FLOAT_ATTRIBUTES name
      negative_zero: "FLOAT",
      mode: "STRING",
      perm: "INTS",
      scales: "FLOATS",
      mixed_ints: "INTS",
      names: "STRINGS",
      empty: "INTS",
      value: "TENSOR",
      body: "GRAPH",
      explicit: "FLOATS",
    });
    expect(node.getInts("perm")).toEqual([0, 2, 1]);
    expect(node.getFloats("scales")).toEqual([1, 1.5]);
    expect(node.attribute("big")?.value).toBe(2n ** 62n);
    expect(node.attribute("explicit")?.name).toBe("explicit");
    expect(body.parent).toBe(node);
  });

  it("makes well-known float attributes FLOAT even when written as integers", () => {
    const b = createBuilder();
    const x = b.input("x", DataType.FLOAT, [1]);
    const node = b.node("Gemm", [x, x], { alpha: 1, beta: 0, transB: 1, epsilon: [1, 2] });
    expect(attributeTypes(node)).toEqual({
      alpha: "FLOAT",
      beta: "FLOAT",
      transB: "INT",
      epsilon: "FLOATS",
    });
    expect(node.getFloat("alpha")).toBe(1);
  });

  it("refuses values it cannot type", () => {
    const b = createBuilder();
    const x = b.input("x", DataType.FLOAT, [1]);
    expect(() => b.node("Op", [x], { bad: { nested: true } })).toThrow(
      /cannot infer an ONNX attribute type/,
    );
    expect(() => b.node("Op", [x], { bad: [1, "a"] })).toThrow(/cannot infer/);
  });

  it("integral values for float attributes run on ORT (alpha, extrapolation_value, low/high, mean/scale)", async () => {
    const b = createBuilder();
    const x = b.input("x", DataType.FLOAT, [1, 1, 2, 2]);
    b.output(b.LeakyRelu(x, { alpha: 2 }), "leaky");
    const roi = b.constant([0, 0, 0, 0, 1, 1, 1, 1], [8], DataType.FLOAT, "roi");
    const sizes = b.constant([1, 1, 3, 3], [4], DataType.INT64, "sizes");
    const resize = b.node("Resize", [x, roi, undefined, sizes], {
      mode: "linear",
      coordinate_transformation_mode: "tf_crop_and_resize",
      extrapolation_value: 0,
    });
    b.output(resize.output, "resized");
    b.output(b.RandomUniform({ low: 2, high: 3, shape: [16], dtype: DataType.FLOAT }), "uniform");
    b.output(b.RandomNormal({ mean: 5, scale: 1e-6, shape: [2] }), "normal");
    const data = Float32Array.from([-1, 2, -3, 4]);
    const out = await runFloats(encodeModel(b.build()), { x: { data, dims: [1, 1, 2, 2] } });
    expect(Array.from(out.leaky!)).toEqual([-2, 2, -6, 4]);
    expect(out.resized).toHaveLength(9);
    expect(out.uniform).toHaveLength(16);
    for (const v of out.uniform!) expect(v >= 2 && v < 3).toBe(true);
    for (const v of out.normal!) expect(v).toBeCloseTo(5, 3);
  });

  it("Multinomial's sample_size stays an INT (ORT rejects a float)", async () => {
    const b = createBuilder();
    const logits = b.input("logits", DataType.FLOAT, [1, 3]);
    const node = b.node("Multinomial", [logits], { sample_size: 4, seed: 1 });
    expect(attributeTypes(node)).toEqual({ sample_size: "INT", seed: "FLOAT" });
    b.output(b.Cast(node.output, { to: DataType.FLOAT }), "samples");
    const { samples } = await runFloats(encodeModel(b.build()), {
      logits: { data: Float32Array.from([0, 0, 50]), dims: [1, 3] },
    });
    expect(Array.from(samples!)).toEqual([2, 2, 2, 2]);
  });
});
