import {
  AttributeType,
  createBuilder,
  DataType,
  formatSignature,
  newestDocumentedOpset,
  OP_SCHEMAS,
  onnxTypeString,
  schemaFor,
  schemaHistory,
  tensorType,
} from "@lathe/core";
import { describe, expect, it } from "vitest";

describe("op-schema registry", () => {
  it("picks the newest version at or below the imported opset", () => {
    expect(schemaFor("", "Clip", 10)?.sinceVersion).toBe(6);
    expect(schemaFor("", "Clip", 10)?.attributes.map((a) => a.name)).toEqual(["max", "min"]);
    const clip13 = schemaFor("", "Clip", 17)!;
    expect(clip13.sinceVersion).toBe(13);
    expect(clip13.inputs.map((p) => [p.name, p.option])).toEqual([
      ["input", "single"],
      ["min", "optional"],
      ["max", "optional"],
    ]);
    expect(formatSignature(clip13)).toBe("Clip-13(input: T, min?: T, max?: T) -> (output: T)");
    expect(schemaFor("ai.onnx", "Clip", 17)).toBe(clip13);
  });

  it("has no schema before an op exists or after it is deprecated", () => {
    expect(schemaFor("", "DynamicQuantizeLinear", 9)).toBeUndefined();
    expect(schemaHistory("", "DynamicQuantizeLinear")[0]?.sinceVersion).toBe(11);
    expect(schemaFor("", "Upsample", 9)?.sinceVersion).toBe(9);
    expect(schemaFor("", "Upsample", 10)).toBeUndefined();
    expect(schemaHistory("", "Upsample").at(-1)).toMatchObject({
      sinceVersion: 10,
      deprecated: true,
    });
    expect(schemaFor("", "NoSuchOp", 21)).toBeUndefined();
  });

  it("covers opsets newer than Python onnx 1.12 knows, ai.onnx.ml and com.microsoft", () => {
    expect(newestDocumentedOpset("")).toBeGreaterThanOrEqual(23);
    expect(schemaFor("", "Attention", 23)?.sinceVersion).toBe(23);
    expect(schemaFor("", "Attention", 22)).toBeUndefined();
    expect(schemaFor("", "RMSNormalization", 23)?.sinceVersion).toBe(23);
    expect(schemaFor("ai.onnx.ml", "TreeEnsembleClassifier", 3)?.sinceVersion).toBe(3);
    const nbits = schemaFor("com.microsoft", "MatMulNBits", 1)!;
    expect(nbits.attributes.filter((a) => a.required).map((a) => a.name)).toEqual(
      expect.arrayContaining(["K", "N", "block_size"]),
    );
    expect(nbits.minInputs).toBe(3);
    // every contrib op Lathe's passes emit is described
    for (const op of [
      "DynamicQuantizeMatMul",
      "GatherBlockQuantized",
      "GroupQueryAttention",
      "MatMulNBits",
      "MultiHeadAttention",
    ])
      expect(schemaFor("com.microsoft", op, 1), op).toBeDefined();
  });

  it("records attribute types, defaults and required flags", () => {
    const conv = schemaFor("", "Conv", 11)!;
    expect(conv.attributes.find((a) => a.name === "auto_pad")).toEqual({
      name: "auto_pad",
      type: AttributeType.STRING,
      required: false,
      default: "NOTSET",
    });
    expect(schemaFor("", "Cast", 19)!.attributes.find((a) => a.name === "to")).toMatchObject({
      type: AttributeType.INT,
      required: true,
    });
    const lstm = schemaFor("", "LeakyRelu", 16)!;
    expect(lstm.attributes[0]).toMatchObject({ name: "alpha", type: AttributeType.FLOAT });
    expect(lstm.attributes[0]!.default).toBeCloseTo(0.01);
  });

  it("is sorted and has one entry per op version", () => {
    const keys = OP_SCHEMAS.map((s) => `${s.domain}::${s.name}-${s.sinceVersion}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(OP_SCHEMAS.length).toBeGreaterThan(700);
  });

  it("spells value types as type constraints do", () => {
    expect(onnxTypeString(tensorType(DataType.FLOAT))).toBe("tensor(float)");
    expect(onnxTypeString(tensorType(DataType.DOUBLE, [2]))).toBe("tensor(double)");
    expect(onnxTypeString({ kind: "sequence", elemType: tensorType(DataType.INT64) })).toBe(
      "seq(tensor(int64))",
    );
    expect(onnxTypeString({ kind: "sequence" })).toBeUndefined();
  });

  it("lets the builder type float attributes from the schema", () => {
    const b = createBuilder({ opset: 21, opsets: { "com.microsoft": 1 } });
    const x = b.input("x", DataType.FLOAT, [1, 4, 8]);
    const y = b
      .domain("com.microsoft")
      .MultiHeadAttention(x, x, x, { num_heads: 2, mask_filter_value: -10000 });
    const node = y.producer()!;
    expect(node.attribute("mask_filter_value")?.type).toBe(AttributeType.FLOAT);
    expect(node.attribute("num_heads")?.type).toBe(AttributeType.INT);
  });
});
