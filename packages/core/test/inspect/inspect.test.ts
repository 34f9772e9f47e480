import { openSync } from "node:fs";
import { join } from "node:path";
import {
  DataType,
  dataTypeInfo,
  inspectFile,
  inspectModel,
  loadModel,
  type ModelSummary,
  saveModel,
  Tensor,
  tensorType,
  Value,
} from "@lathe/core";
import { boolTensor, float32Tensor, tempDirs, withOrtSession } from "@lathe/core/testing";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { SAMPLE_EXTERNAL_DATA, sampleModel } from "./sample-model.js";

// Every file the codec opens goes through this spy, so a test can prove that no external
// tensor was read (reads open the data file; loading only stats it).
vi.mock("node:fs", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:fs")>();
  return { ...actual, openSync: vi.fn(actual.openSync) };
});

const F32 = dataTypeInfo(DataType.FLOAT).name;
const I64 = dataTypeInfo(DataType.INT64).name;
const BOOL = dataTypeInfo(DataType.BOOL).name;

let dir: string;

const tempDir = tempDirs(afterAll);
let file: string;

beforeAll(async () => {
  dir = tempDir("lathe-inspect-");
  file = join(dir, "model.onnx");
  await saveModel(sampleModel(), file, { externalData: SAMPLE_EXTERNAL_DATA });
});

/** The summary of the sample model, apart from the `file` section that depends on the temp folder. */
function expectedSummary(): Omit<ModelSummary, "file"> {
  return {
    schemaVersion: 1,
    irVersion: 10,
    producer: { name: "lathe-test", version: "0.0.1" },
    domain: "ai.lathe.test",
    modelVersion: 3,
    docString: "A model for inspect tests.",
    graphName: "main",
    opsetImports: { "ai.onnx": 21, "com.microsoft": 1, local: 1 },
    metadata: { author: "lathe tests", license: "MIT" },
    inputs: [
      { name: "x", kind: "tensor", dtype: F32, shape: ["batch", 16] },
      { name: "use_relu", kind: "tensor", dtype: BOOL, shape: [] },
    ],
    outputs: [{ name: "logits", kind: "tensor", dtype: F32, shape: ["batch", 8] }],
    nodes: { total: 12, mainGraph: 10, subgraphs: 2, functionBodies: 1 },
    ops: {
      "ai.onnx": { Add: 2, Constant: 2, MatMul: 2, If: 1, Mul: 1, Relu: 1, Reshape: 1 },
      "com.microsoft": { Gelu: 1 },
      local: { Double: 1 },
    },
    functions: 1,
    parameters: {
      total: {
        tensors: 6,
        count: 512 + 32 + 256 + 1 + 8 + 2,
        bytes: 2048 + 128 + 1024 + 4 + 32 + 16,
        byDtype: {
          [F32]: { tensors: 5, count: 809, bytes: 3236 },
          [I64]: { tensors: 1, count: 2, bytes: 16 },
        },
      },
      initializers: {
        tensors: 4,
        count: 801,
        bytes: 3204,
        byDtype: { [F32]: { tensors: 4, count: 801, bytes: 3204 } },
      },
      constants: {
        tensors: 2,
        count: 10,
        bytes: 48,
        byDtype: {
          [F32]: { tensors: 1, count: 8, bytes: 32 },
          [I64]: { tensors: 1, count: 2, bytes: 16 },
        },
      },
    },
    externalData: [
      { location: "model.onnx.data", tensors: 1, bytes: 2048, fileBytes: 2048 },
      { location: "model.onnx.data.1", tensors: 1, bytes: 1024, fileBytes: 1024 },
    ],
    largestInitializers: [
      {
        name: "w1",
        dtype: F32,
        dims: [16, 32],
        bytes: 2048,
        storage: "external",
        location: "model.onnx.data",
      },
      {
        name: "w2",
        dtype: F32,
        dims: [32, 8],
        bytes: 1024,
        storage: "external",
        location: "model.onnx.data.1",
      },
      { name: "bias", dtype: F32, dims: [32], bytes: 128, storage: "inline", location: null },
      { name: "two", dtype: F32, dims: [], bytes: 4, storage: "inline", location: null },
    ],
  };
}

describe("inspectFile", () => {
  it("summarizes every field of a saved model with external data", async () => {
    const summary = await inspectFile(file);
    const { file: fileSummary, ...rest } = summary;
    expect(rest).toEqual(expectedSummary());
    expect(fileSummary).not.toBeNull();
    const modelBytes = fileSummary!.modelBytes;
    expect(modelBytes).toBeGreaterThan(128); // holds at least the inline bias
    expect(fileSummary).toEqual({
      path: file,
      modelBytes,
      externalBytes: 2048 + 1024,
      totalBytes: modelBytes + 3072,
    });
    // toEqual ignores key order; the order is part of the format.
    expect(Object.keys(summary.ops)).toEqual(["ai.onnx", "com.microsoft", "local"]);
    expect(Object.keys(summary.ops["ai.onnx"]!)).toEqual([
      "Add",
      "Constant",
      "MatMul",
      "If",
      "Mul",
      "Relu",
      "Reshape",
    ]);
    expect(Object.keys(summary.opsetImports)).toEqual(["ai.onnx", "com.microsoft", "local"]);
    expect(Object.keys(summary.parameters.constants.byDtype)).toEqual([F32, I64]);
    // Plain JSON: a round trip through text changes nothing.
    expect(JSON.parse(JSON.stringify(summary))).toEqual(summary);
  });

  it("never opens an external-data file", async () => {
    const opened = vi.mocked(openSync);
    opened.mockClear();
    await inspectFile(file);
    const openedPaths = opened.mock.calls.map(([path]) => String(path));
    expect(openedPaths.filter((p) => p.includes("model.onnx.data"))).toEqual([]);

    // The spy does see reads: loading a weight opens its data file.
    const model = await loadModel(file);
    const w1 = model.graph.initializers.get("w1")!.constValue as Tensor;
    w1.bytes();
    expect(opened.mock.calls.map(([path]) => String(path))).toContain(join(dir, "model.onnx.data"));
  });

  it("leaves external tensors unloaded", async () => {
    const model = await loadModel(file);
    inspectModel(model, { file });
    const external = [...model.graph.initializers.values()]
      .map((v) => v.constValue as Tensor)
      .filter((t) => t.external !== undefined);
    expect(external.map((t) => t.name).sort()).toEqual(["w1", "w2"]);
    for (const tensor of external) expect(tensor.isLoaded).toBe(false);
  });

  it("describes the model ONNX Runtime runs", async () => {
    const summary = await inspectFile(file);
    await withOrtSession(file, async (session) => {
      expect(session.inputNames).toEqual(summary.inputs.map((v) => v.name));
      expect(session.outputNames).toEqual(summary.outputs.map((v) => v.name));
      const batch = 3;
      const result = await session.run({
        x: float32Tensor(new Float32Array(batch * 16).fill(0.5), [batch, 16]),
        use_relu: boolTensor([true], []),
      });
      const shape = summary.outputs[0]!.shape!.map((d) => (d === "batch" ? batch : d));
      expect(result.logits!.dims).toEqual(shape);
    });
  });

  it("reports a missing file as a LatheError naming the path", async () => {
    const missing = join(dir, "nope.onnx");
    await expect(inspectFile(missing)).rejects.toMatchObject({
      code: "FILE_NOT_FOUND",
      where: missing,
    });
  });
});

describe("inspectModel", () => {
  it("summarizes a model in memory, without file sizes", () => {
    const summary = inspectModel(sampleModel());
    expect(summary.file).toBeNull();
    const { file: _, ...rest } = summary;
    const expected = expectedSummary();
    // Nothing is external before the model is saved.
    expect(rest).toEqual({
      ...expected,
      externalData: [],
      largestInitializers: expected.largestInitializers.map((t) => ({
        ...t,
        storage: "inline",
        location: null,
      })),
    });
  });

  it("lists the `top` largest initializers", () => {
    const model = sampleModel();
    expect(inspectModel(model, { top: 2 }).largestInitializers.map((t) => t.name)).toEqual([
      "w1",
      "w2",
    ]);
    expect(inspectModel(model, { top: 0 }).largestInitializers).toEqual([]);
    expect(() => inspectModel(model, { top: -1 })).toThrow(
      /"top" must be a whole number >= 0, got -1/,
    );
  });

  it("leaves out initializers that are also listed as graph inputs", () => {
    const model = sampleModel();
    const w1 = model.graph.initializers.get("w1")!;
    model.graph.inputs.push(w1); // how IR < 4 exporters list weights
    expect(inspectModel(model).inputs.map((v) => v.name)).toEqual(["x", "use_relu"]);
  });

  it("describes inputs of unknown, partial or non-tensor types", () => {
    const model = sampleModel();
    model.graph.inputs.push(
      new Value("tokens", { kind: "sequence", elemType: tensorType(DataType.INT64, [null]) }),
      new Value("mask", tensorType(DataType.UNDEFINED, ["batch", null])),
      new Value("scores", tensorType(DataType.FLOAT16)),
      new Value("untyped"),
    );
    expect(inspectModel(model).inputs.slice(2)).toEqual([
      { name: "tokens", kind: "sequence", dtype: null, shape: null },
      { name: "mask", kind: "tensor", dtype: null, shape: ["batch", null] },
      { name: "scores", kind: "tensor", dtype: dataTypeInfo(DataType.FLOAT16).name, shape: null },
      { name: "untyped", kind: null, dtype: null, shape: null },
    ]);
  });

  it("counts a tensor shared by two initializers once", () => {
    const model = sampleModel();
    const shared = Tensor.fromArray(DataType.FLOAT, [4], [1, 2, 3, 4], { name: "shared" });
    model.graph.addInitializer(shared, "shared_a");
    model.graph.addInitializer(shared, "shared_b");
    const { initializers } = inspectModel(model).parameters;
    expect(initializers.tensors).toBe(5);
    expect(initializers.bytes).toBe(3204 + 16);
  });
});
