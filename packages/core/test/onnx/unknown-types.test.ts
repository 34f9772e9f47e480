import { create, toBinary } from "@bufbuild/protobuf";
import {
  createBuilder,
  DataType,
  decodeModel,
  encodeModel,
  type Model,
  modelToProto,
  proto,
} from "@lathe/core";
import { boolTensor, runFloat } from "@lathe/core/testing";
import { describe, expect, it } from "vitest";
import { catchLatheError } from "../fixtures/catch-lathe-error.js";

/** y = If(cond) { Relu(x) } else { Neg(x) }, its branch outputs declared without a type. */
function ifModel(): Model {
  const b = createBuilder({ opset: 16 });
  const x = b.input("x", DataType.FLOAT, [3]);
  const cond = b.input("cond", DataType.BOOL, []);
  const thenB = createBuilder({ opset: 16, namePrefix: "then" });
  thenB.output(thenB.Relu(x), "then_out");
  thenB.graph.name = "then_graph";
  const elseB = createBuilder({ opset: 16, namePrefix: "else" });
  elseB.output(elseB.Neg(x), "else_out");
  elseB.graph.name = "else_graph";
  b.output(
    b.node("If", [cond], { then_branch: thenB.graph, else_branch: elseB.graph }, { name: "branch" })
      .output,
    "y",
    DataType.FLOAT,
    [3],
  );
  return b.build();
}

/** The model's bytes with every branch output's TypeProto present but empty, as exporters write. */
function withEmptyBranchTypes(model: Model, edit?: (branchOutput: proto.ValueInfoProto) => void) {
  const modelProto = modelToProto(model);
  const ifNode = modelProto.graph!.node.find((n) => n.opType === "If")!;
  for (const attribute of ifNode.attribute) {
    const output = attribute.g!.output[0]!;
    output.type = create(proto.TypeProtoSchema, {});
    edit?.(output);
  }
  return toBinary(proto.ModelProtoSchema, modelProto);
}

describe("values whose type is absent or empty", () => {
  it("decode as unknown, like the ONNX checker and ONNX Runtime accept them", async () => {
    const bytes = withEmptyBranchTypes(ifModel());
    const x = { data: new Float32Array([-1, 0.5, 2]), dims: [3] };

    const model = decodeModel(bytes, { file: "if.onnx" });
    const ifNode = model.graph.nodes().find((n) => n.opType === "If")!;
    const [thenGraph, elseGraph] = ifNode.subgraphs();
    expect(thenGraph!.outputs[0]!.type).toBeUndefined();
    expect(elseGraph!.outputs[0]!.type).toBeUndefined();

    // re-encoded, it still loads and computes both branches
    for (const [condition, expected] of [
      [true, [0, 0.5, 2]],
      [false, [1, -0.5, -2]],
    ] as const) {
      const original = await runIf(bytes, x.data, condition);
      const reencoded = await runIf(encodeModel(model), x.data, condition);
      expect([...original]).toEqual(expected);
      expect([...reencoded]).toEqual(expected);
    }
  });

  it("an element type ONNX does not define is refused, naming the value, node and graph", () => {
    const bytes = withEmptyBranchTypes(ifModel(), (output) => {
      output.type = create(proto.TypeProtoSchema, {
        value: { case: "tensorType", value: { elemType: 99 } },
      });
    });
    const error = catchLatheError(() => decodeModel(bytes, { file: "bad-if.onnx" }));
    expect(error.where).toBe("bad-if.onnx");
    expect(error.message).toMatch(
      /value "then_out" \(output 0 of node "then\/Relu" \(Relu\)\) in graph "then_graph" has element type 99/,
    );
  });

  it("a branch reading a name nothing defines is refused, naming the node and the graph", () => {
    const modelProto = modelToProto(ifModel());
    const ifNode = modelProto.graph!.node.find((n) => n.opType === "If")!;
    ifNode.attribute[0]!.g!.node[0]!.input[0] = "missing";
    const error = catchLatheError(() =>
      decodeModel(toBinary(proto.ModelProtoSchema, modelProto), { file: "bad-if.onnx" }),
    );
    expect(error.message).toMatch(
      /node "then\/Relu" \(Relu\) in graph "then_graph" reads "missing", which no node/,
    );
  });
});

/** Runs the If model with a bool condition. */
function runIf(bytes: Uint8Array, x: Float32Array, cond: boolean): Promise<Float32Array> {
  return runFloat(bytes, { x: { data: x, dims: [3] }, cond: boolTensor([cond], []) }, "y");
}
