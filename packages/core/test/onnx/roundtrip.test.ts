import { readFileSync } from "node:fs";
import { join } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  type Attribute,
  AttributeType,
  attr,
  createBuilder,
  DataType,
  decodeModel,
  encodeModel,
  Graph,
  loadModel,
  type Model,
  modelToProto,
  OnnxFunction,
  proto,
  SparseTensor,
  saveModel,
  Tensor,
  tensorType,
  Value,
} from "@lathe/core";
import { randomFloats, runFloats, tempDirs } from "@lathe/core/testing";
import { afterAll, describe, expect, it } from "vitest";
import { snapshotModel } from "../fixtures/model-snapshot.js";

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

const makeTempDir = tempDirs(afterAll);
const tempDir = () => makeTempDir("lathe-roundtrip-");

function u16(patterns: number[]): Uint8Array {
  return new Uint8Array(Uint16Array.from(patterns).buffer);
}

/** A graph `name(in) = Identity(in)`, optionally reading an outer value instead. */
function identityGraph(name: string, outer?: Value): Graph {
  const b = createBuilder({ namePrefix: name });
  const input = outer ?? b.input(`${name}_in`, DataType.FLOAT, [2]);
  b.output(b.Identity(input), `${name}_out`, DataType.FLOAT, [2]);
  b.graph.name = name;
  return b.graph;
}

/** A model that uses every field the IR can hold; it is not meant to run. */
function everythingModel(): Model {
  const b = createBuilder({ opsets: { "test.domain": 1, local: 1 } });
  const graph = b.graph;
  graph.name = "everything";
  graph.docString = "a graph with everything";
  graph.metadataProps.set("graph_key", "graph value");

  const x = b.input("x", DataType.FLOAT);
  x.type = {
    kind: "tensor",
    elemType: DataType.FLOAT,
    shape: { dims: ["batch", 2], denotations: ["DATA_BATCH", "DATA_FEATURE"] },
    denotation: "TENSOR",
  };
  x.docString = "features";
  x.metadataProps.set("role", "input");
  const cond = b.input("cond", DataType.BOOL, []);
  graph.inputs.push(
    new Value("seq", { kind: "sequence", elemType: tensorType(DataType.FLOAT, [null, 3]) }),
    new Value("map", {
      kind: "map",
      keyType: DataType.INT64,
      valueType: tensorType(DataType.FLOAT, []),
    }),
    new Value("opt", {
      kind: "optional",
      elemType: tensorType(DataType.INT32, [2]),
      denotation: "OPT",
    }),
    new Value("sparse_in", {
      kind: "sparse_tensor",
      elemType: DataType.FLOAT,
      shape: { dims: [10, "n"] },
    }),
    new Value("unranked", tensorType(DataType.FLOAT)),
    new Value("untyped"),
  );

  const documented = Tensor.fromBytes(DataType.FLOAT16, [3], u16([0x3c00, 0xc000, 0x7bff]), {
    docString: "half precision",
    metadataProps: [["quant", "none"]],
  });
  b.initializer(documented, "f16");
  b.initializer(Tensor.fromBytes(DataType.BFLOAT16, [2], u16([0x3f80, 0xc020])), "bf16");
  b.initializer(Tensor.fromBytes(DataType.INT4, [5], Uint8Array.from([0xe1, 0x87, 0x03])), "int4");
  b.initializer(Tensor.fromBytes(DataType.UINT4, [3], Uint8Array.from([0xf0, 0x09])), "uint4");
  b.initializer(
    Tensor.fromBytes(DataType.FLOAT8E4M3FN, [4], Uint8Array.from([0x38, 0xb8, 0x7e, 0x00])),
    "f8e4m3",
  );
  b.initializer(
    Tensor.fromBytes(DataType.FLOAT8E5M2, [2], Uint8Array.from([0x3c, 0xfb])),
    "f8e5m2",
  );
  b.initializer(Tensor.fromBytes(DataType.FLOAT8E4M3FNUZ, [1], Uint8Array.from([0x40])), "f8fnuz");
  b.initializer(Tensor.fromBytes(DataType.FLOAT4E2M1, [3], Uint8Array.from([0x21, 0x0f])), "f4");
  b.initializer(Tensor.fromArray(DataType.COMPLEX64, [2], [1, 2, 3, 4]), "c64");
  b.initializer(Tensor.fromArray(DataType.DOUBLE, [2], [1e300, -0.5]), "f64");
  b.initializer(Tensor.fromArray(DataType.UINT64, [2], [2n ** 64n - 1n, 1n]), "u64");
  b.initializer(Tensor.fromArray(DataType.INT64, [], [INT64_MIN]), "i64_scalar");
  b.initializer(Tensor.fromBytes(DataType.BOOL, [3], Uint8Array.from([1, 0, 1])), "bools");
  b.initializer(Tensor.fromArray(DataType.FLOAT, [0, 4], []), "empty");
  b.initializer(Tensor.fromStrings([3], ["héllo", "", Uint8Array.from([0xff, 0xfe])]), "strings");
  // 64 KiB: large enough that the writer passes the bytes through instead of buffering them.
  b.initializer(Tensor.fromArray(DataType.FLOAT, [128, 128], randomFloats(128 * 128, 1)), "big");

  const subgraph = identityGraph("sub");
  const attributes: Attribute[] = [
    attr.float("f", 0.375), // ONNX float attributes are float32: use a value float32 holds exactly
    { name: "f_negative_zero", type: AttributeType.FLOAT, value: -0 },
    attr.int("i_max", INT64_MAX),
    attr.int("i_min", INT64_MIN),
    attr.int("i_small", -5),
    attr.int("i_zero", 0),
    {
      name: "s_bytes",
      type: AttributeType.STRING,
      value: Uint8Array.from([0xff, 0xfe, 0x00, 0x80]),
    },
    attr.string("s_text", "héllo ✓"),
    attr.string("s_bom", "\uFEFFbom"),
    attr.string("s_empty", ""),
    attr.tensor("t", Tensor.fromArray(DataType.INT32, [2], [-1, 7], { name: "t_value" })),
    attr.graph("g", subgraph),
    attr.floats("fs", [0.5, -1, 3.25]),
    attr.ints("is", [INT64_MIN, 2n ** 53n + 1n, 5, -1]),
    { name: "ss", type: AttributeType.STRINGS, value: ["a", Uint8Array.from([0xc3]), ""] },
    {
      name: "ts",
      type: AttributeType.TENSORS,
      value: [Tensor.fromArray(DataType.FLOAT, [1], [1]), Tensor.fromStrings([1], ["s"])],
    },
    attr.graphs("gs", [identityGraph("gs0"), identityGraph("gs1", x)]),
    {
      name: "st",
      type: AttributeType.SPARSE_TENSOR,
      value: new SparseTensor(Tensor.fromArray(DataType.FLOAT, [1], [9]), undefined, [3]),
    },
    {
      name: "sts",
      type: AttributeType.SPARSE_TENSORS,
      value: [
        new SparseTensor(
          Tensor.fromArray(DataType.INT32, [2], [4, 5]),
          Tensor.fromArray(DataType.INT64, [2, 2], [0, 1, 1, 0]),
          [2, 2],
        ),
      ],
    },
    {
      name: "tp",
      type: AttributeType.TYPE_PROTO,
      value: {
        kind: "sequence",
        elemType: { kind: "map", keyType: DataType.STRING, valueType: tensorType(DataType.FLOAT) },
      },
    },
    {
      name: "tps",
      type: AttributeType.TYPE_PROTOS,
      value: [tensorType(DataType.INT8, [1, "k"]), { kind: "optional" }],
    },
    { ...attr.int("documented", 1), docString: "an attribute doc" },
  ];
  const everything = b.node("Everything", [x, undefined, cond], attributes, {
    domain: "test.domain",
    name: "everything",
    outputs: ["e0", "", "e2"],
  });
  everything.docString = "every attribute type";
  everything.overload = "v1";
  everything.metadataProps.set("node_key", "node value");
  const [e0, , e2] = everything.outputs;
  e2!.type = {
    kind: "tensor",
    elemType: DataType.FLOAT,
    shape: { dims: ["batch", null, 7], denotations: ["DATA_BATCH", undefined, undefined] },
  };
  e2!.docString = "an intermediate";
  e2!.metadataProps.set("value_key", "value value");

  // If branches read outer values (x, e2) directly.
  const thenB = createBuilder({ namePrefix: "then", graph: new Graph({ name: "then" }) });
  thenB.output(thenB.Relu(e2!), "then_out", DataType.FLOAT);
  const elseB = createBuilder({ namePrefix: "else", graph: new Graph({ name: "else" }) });
  elseB.output(elseB.Neg(x), "else_out", DataType.FLOAT);
  const ifOut = b.If(cond, { then_branch: thenB.graph, else_branch: elseB.graph });

  // Loop: trip count, condition and one carried value; the body adds the outer x.
  const body = createBuilder({ namePrefix: "body", graph: new Graph({ name: "body" }) });
  body.input("iter", DataType.INT64, []);
  const condIn = body.input("cond_in", DataType.BOOL, []);
  const carried = body.input("v_in", DataType.FLOAT, ["batch", 2]);
  body.output(body.Identity(condIn), "cond_out", DataType.BOOL, []);
  body.output(body.Add(carried, x), "v_out", DataType.FLOAT, ["batch", 2]);
  const tripCount = b.constant([3], [], DataType.INT64, "trip_count");
  const loopOut = b.Loop(tripCount, cond, x, { body: body.graph });

  b.node("Twice", [ifOut], {}, { domain: "local", name: "call" });

  b.output(e0!, "e0", DataType.FLOAT, ["batch", 2]);
  e0!.docString = "first output";
  e0!.metadataProps.set("output_key", "1");
  b.output(ifOut, "if_out");
  b.output(loopOut, "loop_out", DataType.FLOAT, ["batch", 2]);
  b.output(graph.last!.output, "twice_out", DataType.FLOAT);
  // Last: ONNX keeps sparse initializers in a list of their own, after the dense ones.
  graph.addInitializer(
    new SparseTensor(
      Tensor.fromArray(DataType.FLOAT, [3], [1, 2, 3], { name: "sparse_w" }),
      Tensor.fromArray(DataType.INT64, [3], [1, 5, 7], { name: "sparse_w_indices" }),
      [2, 4],
    ),
  );
  graph.quantizationAnnotations.push({
    tensorName: "e2",
    quantParameterTensorNames: [
      ["SCALE_TENSOR", "f16"],
      ["ZERO_POINT_TENSOR", "int4"],
    ],
  });

  const model = b.build({ irVersion: 11, producerName: "lathe-test", producerVersion: "9.9" });
  model.domain = "ai.lathe.test";
  model.modelVersion = 42;
  model.docString = "the model doc";
  model.metadataProps.set("model_key", "model value");
  model.metadataProps.set("unicode", "✓ é");

  const fnBody = createBuilder({ namePrefix: "twice", graph: new Graph({ name: "Twice" }) });
  const fnIn = fnBody.input("v", DataType.FLOAT);
  const scale = fnBody.node(
    "Constant",
    [],
    [{ name: "value_float", type: AttributeType.FLOAT, refAttrName: "k" }],
  );
  const fnOut = fnBody.Mul(fnIn, scale.output);
  fnOut.type = tensorType(DataType.FLOAT, ["n"]);
  fnBody.output(fnOut, "w");
  const fn = new OnnxFunction({
    domain: "local",
    name: "Twice",
    overload: "",
    graph: fnBody.graph,
    attributes: [],
    attributeDefaults: [attr.float("k", 2)],
    opsetImports: [["", 21]],
    docString: "multiplies by k",
  });
  fn.metadataProps.set("fn_key", "fn value");
  model.functions.set(fn.key, fn);

  model.trainingInfo = [
    create(proto.TrainingInfoProtoSchema, {
      initialization: create(proto.GraphProtoSchema, { name: "init" }),
      algorithm: create(proto.GraphProtoSchema, { name: "algo", docString: "update step" }),
      initializationBinding: [
        create(proto.StringStringEntryProtoSchema, { key: "big", value: "init_out" }),
      ],
      updateBinding: [
        create(proto.StringStringEntryProtoSchema, { key: "big", value: "algo_out" }),
      ],
    }),
  ];
  model.configuration = [
    create(proto.DeviceConfigurationProtoSchema, {
      name: "pair",
      numDevices: 2,
      device: ["a", "b"],
    }),
  ];
  return model;
}

/**
 * Replaces the model's training info with one carrying fields ONNX 1.20 does not know
 * (field 99, length-delimited "abc"; field 100, varint 150); returns its encoding.
 */
function addUnknownTrainingFields(model: Model): Uint8Array {
  const known = toBinary(proto.TrainingInfoProtoSchema, model.trainingInfo[0]!);
  const unknown = [0x9a, 0x06, 3, 0x61, 0x62, 0x63, 0xa0, 0x06, 0x96, 0x01];
  const bytes = new Uint8Array([...known, ...unknown]);
  model.trainingInfo = [fromBinary(proto.TrainingInfoProtoSchema, bytes)];
  return bytes;
}

describe("decode(encode(model))", () => {
  it("keeps every field of a model that uses them all", () => {
    const model = everythingModel();
    const bytes = encodeModel(model);
    const decoded = decodeModel(bytes);
    expect(snapshotModel(decoded)).toEqual(snapshotModel(model));
  });

  it("keeps int64 attributes beyond 2^53 exact, as bigints", () => {
    const node = decodeModel(encodeModel(everythingModel())).graph.first!;
    expect(node.attribute("i_max")?.value).toBe(INT64_MAX);
    expect(node.attribute("i_min")?.value).toBe(INT64_MIN);
    expect(node.attribute("i_small")?.value).toBe(-5);
    expect(node.attribute("is")?.value).toEqual([INT64_MIN, 2n ** 53n + 1n, 5, -1]);
  });

  it("keeps attribute strings that are not UTF-8 as bytes, and UTF-8 ones as text", () => {
    const node = decodeModel(encodeModel(everythingModel())).graph.first!;
    expect(node.attribute("s_bytes")?.value).toEqual(Uint8Array.from([0xff, 0xfe, 0x00, 0x80]));
    expect(node.attribute("s_text")?.value).toBe("héllo ✓");
    expect(node.attribute("s_bom")?.value).toBe("\uFEFFbom");
    expect(node.attribute("ss")?.value).toEqual(["a", Uint8Array.from([0xc3]), ""]);
  });

  it("names unnamed subgraphs, which ONNX Runtime requires", () => {
    const b = createBuilder();
    const cond = b.input("cond", DataType.BOOL, []);
    const x = b.input("x", DataType.FLOAT, [1]);
    const [thenB, elseB] = [createBuilder(), createBuilder()];
    thenB.output(thenB.Neg(x), "t");
    elseB.output(elseB.Abs(x), "e");
    b.output(b.If(cond, { then_branch: thenB.graph, else_branch: elseB.graph }), "y");
    const decoded = decodeModel(encodeModel(b.build()));
    expect(decoded.graph.first!.subgraphs().map((g) => g.name)).toEqual([
      "If_then_branch",
      "If_else_branch",
    ]);
  });

  it("keeps subgraphs wired to the outer values they capture", () => {
    const decoded = decodeModel(encodeModel(everythingModel()));
    const ifNode = decoded.graph.nodes().find((n) => n.opType === "If")!;
    const [thenBranch, elseBranch] = ifNode.subgraphs();
    const e2 = decoded.graph.first!.outputs[2]!;
    expect(thenBranch!.first!.inputs).toEqual([e2]);
    expect(elseBranch!.first!.inputs).toEqual([decoded.graph.inputs[0]]);
    expect(e2.uses().map((u) => u.node)).toContain(thenBranch!.first);
    expect(thenBranch!.parent).toBe(ifNode);
  });

  it("keeps unknown fields inside training info", () => {
    const model = everythingModel();
    const withUnknown = addUnknownTrainingFields(model);
    const decoded = decodeModel(encodeModel(model));
    expect(toBinary(proto.TrainingInfoProtoSchema, decoded.trainingInfo[0]!)).toEqual(withUnknown);
  });

  it("encodes deterministically, and re-encoding a decoded model gives the same bytes", () => {
    const first = encodeModel(everythingModel());
    const second = encodeModel(everythingModel());
    expect(second).toEqual(first);
    expect(encodeModel(decodeModel(first))).toEqual(first);
  });
});

describe("the streaming writer", () => {
  it("writes exactly the bytes @bufbuild/protobuf's encoder writes", () => {
    const model = everythingModel();
    const expected = toBinary(proto.ModelProtoSchema, modelToProto(model));
    expect(encodeModel(model)).toEqual(expected);
  });

  it("writes the library's bytes for unknown fields too", () => {
    const model = everythingModel();
    addUnknownTrainingFields(model);
    expect(encodeModel(model)).toEqual(toBinary(proto.ModelProtoSchema, modelToProto(model)));
  });

  it("writes the same bytes to a file as in memory", async () => {
    const model = everythingModel();
    const path = join(tempDir(), "everything.onnx");
    const result = await saveModel(model, path);
    const onDisk = new Uint8Array(readFileSync(path));
    expect(onDisk).toEqual(encodeModel(model));
    expect(result.bytes).toBe(onDisk.length);
    expect(result.externalFiles).toEqual([]);
  });
});

/** The typed `*_data` fields and the raw little-endian bytes they must decode to. */
interface TypedCase {
  name: string;
  dataType: DataType;
  dims: number[];
  fields: Partial<
    Pick<proto.TensorProto, "floatData" | "int32Data" | "int64Data" | "doubleData" | "uint64Data">
  >;
  raw: Uint8Array;
}

function le(
  size: number,
  count: number,
  set: (view: DataView, offset: number, i: number) => void,
): Uint8Array {
  const bytes = new Uint8Array(size * count);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < count; i++) set(view, i * size, i);
  return bytes;
}

const typedCases: TypedCase[] = (() => {
  const floats = [1.5, -2, 3.25];
  const doubles = [1e300, -0.5];
  const int32s = [-1, 2147483647, 0];
  const int64s = [INT64_MIN, INT64_MAX, 5n];
  const uint64s = [2n ** 64n - 1n, 1n];
  return [
    {
      name: "float",
      dataType: DataType.FLOAT,
      dims: [3],
      fields: { floatData: floats },
      raw: le(4, 3, (v, o, i) => v.setFloat32(o, floats[i]!, true)),
    },
    {
      name: "double",
      dataType: DataType.DOUBLE,
      dims: [2],
      fields: { doubleData: doubles },
      raw: le(8, 2, (v, o, i) => v.setFloat64(o, doubles[i]!, true)),
    },
    {
      name: "int32",
      dataType: DataType.INT32,
      dims: [3],
      fields: { int32Data: int32s },
      raw: le(4, 3, (v, o, i) => v.setInt32(o, int32s[i]!, true)),
    },
    {
      name: "int64",
      dataType: DataType.INT64,
      dims: [3],
      fields: { int64Data: int64s },
      raw: le(8, 3, (v, o, i) => v.setBigInt64(o, int64s[i]!, true)),
    },
    {
      name: "uint64",
      dataType: DataType.UINT64,
      dims: [2],
      fields: { uint64Data: uint64s },
      raw: le(8, 2, (v, o, i) => v.setBigUint64(o, uint64s[i]!, true)),
    },
    {
      name: "uint32",
      dataType: DataType.UINT32,
      dims: [2],
      fields: { uint64Data: [4294967295n, 7n] },
      raw: le(4, 2, (v, o, i) => v.setUint32(o, [4294967295, 7][i]!, true)),
    },
    {
      name: "int16",
      dataType: DataType.INT16,
      dims: [2],
      fields: { int32Data: [-32768, 32767] },
      raw: le(2, 2, (v, o, i) => v.setInt16(o, [-32768, 32767][i]!, true)),
    },
    {
      name: "uint16",
      dataType: DataType.UINT16,
      dims: [2],
      fields: { int32Data: [65535, 1] },
      raw: u16([65535, 1]),
    },
    {
      name: "int8",
      dataType: DataType.INT8,
      dims: [3],
      fields: { int32Data: [-128, 127, -1] },
      raw: Uint8Array.from([0x80, 0x7f, 0xff]),
    },
    {
      name: "uint8",
      dataType: DataType.UINT8,
      dims: [2],
      fields: { int32Data: [255, 0] },
      raw: Uint8Array.from([255, 0]),
    },
    {
      name: "bool",
      dataType: DataType.BOOL,
      dims: [3],
      fields: { int32Data: [1, 0, 1] },
      raw: Uint8Array.from([1, 0, 1]),
    },
    {
      name: "float16",
      dataType: DataType.FLOAT16,
      dims: [2],
      fields: { int32Data: [0x3c00, 0xc000] },
      raw: u16([0x3c00, 0xc000]),
    },
    {
      name: "bfloat16",
      dataType: DataType.BFLOAT16,
      dims: [1],
      fields: { int32Data: [0x3f80] },
      raw: u16([0x3f80]),
    },
    {
      name: "float8e4m3fn",
      dataType: DataType.FLOAT8E4M3FN,
      dims: [2],
      fields: { int32Data: [0x38, 0xb8] },
      raw: Uint8Array.from([0x38, 0xb8]),
    },
    {
      name: "int4",
      dataType: DataType.INT4,
      dims: [5],
      fields: { int32Data: [0xe1, 0x87, 0x03] },
      raw: Uint8Array.from([0xe1, 0x87, 0x03]),
    },
    {
      name: "complex64",
      dataType: DataType.COMPLEX64,
      dims: [2],
      fields: { floatData: [1, 2, 3, 4] },
      raw: le(4, 4, (v, o, i) => v.setFloat32(o, i + 1, true)),
    },
    {
      name: "complex128",
      dataType: DataType.COMPLEX128,
      dims: [1],
      fields: { doubleData: [1, -1] },
      raw: le(8, 2, (v, o, i) => v.setFloat64(o, [1, -1][i]!, true)),
    },
  ];
})();

function modelWithInitializer(tensor: proto.TensorProto): Uint8Array {
  return toBinary(
    proto.ModelProtoSchema,
    create(proto.ModelProtoSchema, {
      irVersion: 10n,
      opsetImport: [create(proto.OperatorSetIdProtoSchema, { domain: "", version: 21n })],
      graph: create(proto.GraphProtoSchema, {
        name: "g",
        initializer: [tensor],
        output: [create(proto.ValueInfoProtoSchema, { name: tensor.name })],
      }),
    }),
  );
}

describe("typed-field tensors", () => {
  it.each(typedCases)("$name: *_data fields decode to the same bytes as raw_data", (c) => {
    const dims = c.dims.map(BigInt);
    const typed = create(proto.TensorProtoSchema, {
      name: "w",
      dataType: c.dataType,
      dims,
      ...c.fields,
    });
    const raw = create(proto.TensorProtoSchema, {
      name: "w",
      dataType: c.dataType,
      dims,
      rawData: c.raw,
    });
    const fromTyped = decodeModel(modelWithInitializer(typed)).graph.initializers.get("w")!
      .constValue as Tensor;
    const fromRaw = decodeModel(modelWithInitializer(raw)).graph.initializers.get("w")!
      .constValue as Tensor;
    expect(fromRaw.bytes()).toEqual(c.raw);
    expect(fromTyped.bytes()).toEqual(c.raw);
    expect(fromTyped.dims).toEqual(c.dims);
    // Once decoded, the tensor is written back as raw_data.
    const reencoded = fromBinary(
      proto.ModelProtoSchema,
      encodeModel(decodeModel(modelWithInitializer(typed))),
    );
    const written = reencoded.graph!.initializer[0]!;
    expect(written.rawData).toEqual(c.raw);
    expect([written.floatData, written.int32Data, written.int64Data]).toEqual([[], [], []]);
  });
});

describe("running on ONNX Runtime", () => {
  function runnableModel(): Model {
    const b = createBuilder();
    const x = b.input("x", DataType.FLOAT, ["batch", 32]);
    const flag = b.input("flag", DataType.FLOAT, []);
    const w1 = b.constant(randomFloats(32 * 64, 11), [32, 64], DataType.FLOAT, "w1");
    const w2 = b.constant(randomFloats(64 * 8, 12), [64, 8], DataType.FLOAT, "w2");
    const hidden = b.Gelu(b.MatMul(x, w1));
    const logits = b.MatMul(hidden, w2);
    const cond = b.Greater(flag, b.scalar(0));
    const thenB = createBuilder({ namePrefix: "then" });
    thenB.output(thenB.Softmax(logits, { axis: -1 }), "probs", DataType.FLOAT, ["batch", 8]);
    const elseB = createBuilder({ namePrefix: "else" });
    elseB.output(elseB.Tanh(logits), "squashed", DataType.FLOAT, ["batch", 8]);
    b.output(
      b.If(cond, { then_branch: thenB.graph, else_branch: elseB.graph }),
      "y",
      DataType.FLOAT,
      ["batch", 8],
    );
    return b.build();
  }

  it("gives identical outputs before and after a save/load round trip", async () => {
    const model = runnableModel();
    const original = encodeModel(model);
    const path = join(tempDir(), "runnable.onnx");
    await saveModel(model, path);
    const loaded = await loadModel(path);
    const x = { data: randomFloats(3 * 32, 5), dims: [3, 32] };
    for (const flag of [1, -1]) {
      const feeds = { x, flag: { data: Float32Array.from([flag]), dims: [] } };
      const before = await runFloats(original, feeds);
      const fromFile = await runFloats(path, feeds);
      const reencoded = await runFloats(encodeModel(loaded), feeds);
      expect(before.y).toHaveLength(24);
      expect(fromFile).toEqual(before);
      expect(reencoded).toEqual(before);
    }
  });
});
