import { copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  createBuilder,
  DataType,
  decodeModel,
  encodeModel,
  Graph,
  LatheError,
  loadModel,
  type Model,
  OnnxFunction,
  proto,
  SeededRandom,
  saveModel,
} from "@lathe/core";
import { randomFloats, tempDirs } from "@lathe/core/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { catchLatheError } from "../fixtures/catch-lathe-error.js";

/** Each case must fail fast; a hang fails the test instead of stalling the run. */
const PROMPT = 10_000;

const tempDir = tempDirs(afterEach);
let root: string;
beforeEach(() => {
  root = tempDir("lathe-bad-input-");
});

/** y = x @ w + bias, with `w` (64 bytes) stored as external data and `bias` inline. */
function tinyModel(): Model {
  const b = createBuilder();
  const x = b.input("x", DataType.FLOAT, [1, 4]);
  const w = b.constant(randomFloats(16, 1), [4, 4], DataType.FLOAT, "w");
  const bias = b.constant([1, 2, 3, 4], [4], DataType.FLOAT, "bias");
  b.output(b.Add(b.MatMul(x, w), bias), "y", DataType.FLOAT, [1, 4]);
  return b.build();
}

/** Loads `path` and returns the LatheError that loading throws. */
async function loadErrorOf(path: string): Promise<LatheError> {
  try {
    await loadModel(path);
  } catch (error) {
    if (error instanceof LatheError) return error;
    throw new Error(`loading ${path} threw something other than a LatheError: ${String(error)}`);
  }
  throw new Error(`${path} loaded, but it should have been refused`);
}

/** The load fails with `code`, naming the file and saying what to do. */
async function expectLoadError(path: string, code: string): Promise<LatheError> {
  const error = await loadErrorOf(path);
  expect(error.code, error.format()).toBe(code);
  expect(error.where).toContain(path);
  expect(error.format()).toContain(path);
  expect(error.hint).toBeTruthy();
  return error;
}

/** Saves the tiny model with `w` in `m.onnx.data`, then applies `edit` to its ModelProto. */
async function editedModel(edit: (model: proto.ModelProto, dir: string) => void): Promise<string> {
  const dir = join(root, "model");
  mkdirSync(dir);
  const path = join(dir, "m.onnx");
  await saveModel(tinyModel(), path, { externalData: { threshold: 64 } });
  const model = fromBinary(proto.ModelProtoSchema, readFileSync(path));
  edit(model, dir);
  writeFileSync(path, toBinary(proto.ModelProtoSchema, model));
  return path;
}

function initializer(model: proto.ModelProto, name: string): proto.TensorProto {
  const tensor = model.graph?.initializer.find((t) => t.name === name);
  if (!tensor) throw new Error(`the fixture has no initializer "${name}"`);
  return tensor;
}

/** Sets one `external_data` key of tensor `w`. */
function setExternal(key: string, value: string) {
  return (model: proto.ModelProto) => {
    const entry = initializer(model, "w").externalData.find((e) => e.key === key);
    if (!entry) throw new Error(`the fixture's "w" has no "${key}" entry`);
    entry.value = value;
  };
}

function seededBytes(count: number, seed: number): Uint8Array {
  const random = new SeededRandom(seed);
  return Uint8Array.from({ length: count }, () => random.nextUint32() >>> 24);
}

describe("files that are not ONNX models", () => {
  it("an empty file", { timeout: PROMPT }, async () => {
    const path = join(root, "empty.onnx");
    writeFileSync(path, "");
    expect((await expectLoadError(path, "NOT_ONNX")).message).toContain("empty");
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8])("random bytes (seed %i)", { timeout: PROMPT }, async (seed) => {
    const path = join(root, `random-${seed}.onnx`);
    writeFileSync(path, seededBytes(4096, seed));
    const error = await loadErrorOf(path);
    expect(["NOT_ONNX", "ONNX_TRUNCATED"]).toContain(error.code);
    expect(error.format()).toContain(path);
  });

  it("a text file (ONNX text format is not the binary format)", { timeout: PROMPT }, async () => {
    const path = join(root, "model.onnx");
    writeFileSync(
      path,
      'ir_version: 8\ngraph {\n  node { op_type: "Relu" input: "x" output: "y" }\n}\n',
    );
    await expectLoadError(path, "NOT_ONNX");
  });

  it("a directory", { timeout: PROMPT }, async () => {
    const path = join(root, "folder.onnx");
    mkdirSync(path);
    expect((await expectLoadError(path, "NOT_ONNX")).message).toContain("directory");
  });

  it("a missing file", { timeout: PROMPT }, async () => {
    await expectLoadError(join(root, "nope.onnx"), "FILE_NOT_FOUND");
  });
});

describe("truncated files", () => {
  const full = encodeModel(tinyModel());

  it.each([0.1, 0.5, 0.99])("cut at %s of its length", { timeout: PROMPT }, async (fraction) => {
    const path = join(root, "cut.onnx");
    writeFileSync(path, full.subarray(0, Math.floor(full.length * fraction)));
    const error = await loadErrorOf(path);
    expect(["ONNX_TRUNCATED", "NOT_ONNX"]).toContain(error.code);
    expect(error.format()).toContain(path);
  });

  it("every shorter prefix is refused, none loads", { timeout: PROMPT }, () => {
    const codes = new Set<string>();
    for (let cut = 0; cut < full.length; cut++) {
      try {
        decodeModel(full.subarray(0, cut), { file: "cut.onnx" });
      } catch (error) {
        if (!(error instanceof LatheError)) throw new Error(`cut at ${cut}: ${String(error)}`);
        expect(error.where).toBe("cut.onnx");
        codes.add(error.code);
        continue;
      }
      throw new Error(`a cut at byte ${cut} of ${full.length} loaded`);
    }
    expect([...codes].sort()).toEqual(["NOT_ONNX", "ONNX_TRUNCATED"]);
  });

  it("a cut can lose only fields stored after the graph, never nodes or weights", {
    timeout: PROMPT,
  }, () => {
    // Protobuf has no end marker: a cut exactly between two top-level fields parses. The graph
    // is one length-prefixed field, so such a cut keeps all of it; what comes after it (other
    // opset imports, metadata, functions) is lost. This pins down that limit.
    const b = createBuilder({ opsets: { local: 1 } });
    const x = b.input("x", DataType.FLOAT, [2]);
    b.output(b.node("F", [b.Relu(x)], {}, { domain: "local" }).output, "y");
    const model = b.build();
    model.metadataProps.set("key", "value");
    const body = createBuilder({ graph: new Graph({ name: "F" }) });
    body.output(body.Neg(body.input("i", DataType.FLOAT)), "o");
    const fn = new OnnxFunction({
      domain: "local",
      name: "F",
      graph: body.graph,
      opsetImports: [["", 21]],
    });
    model.functions.set(fn.key, fn);
    const bytes = encodeModel(model);

    const loaded: string[] = [];
    for (let cut = 0; cut < bytes.length; cut++) {
      let partial: Model;
      try {
        partial = decodeModel(bytes.subarray(0, cut));
      } catch (error) {
        if (!(error instanceof LatheError)) throw new Error(`cut at ${cut}: ${String(error)}`);
        continue;
      }
      expect(partial.graph.nodes().map((n) => n.qualifiedOp)).toEqual(["Relu", "local::F"]);
      loaded.push(
        `${[...partial.opsetImports.keys()]}|${partial.metadataProps.size}|${partial.functions.size}`,
      );
    }
    // Cut after the default-domain import, after all imports, after the metadata.
    expect(loaded).toEqual(["|0|0", ",local|0|0", ",local|1|0"]);
  });

  it("a cut right after the graph field is refused (no opset_import)", { timeout: PROMPT }, () => {
    const parsed = fromBinary(proto.ModelProtoSchema, full);
    parsed.opsetImport = [];
    const error = catchLatheError(() =>
      decodeModel(toBinary(proto.ModelProtoSchema, parsed), { file: "cut.onnx" }),
    );
    expect(["NOT_ONNX", "ONNX_TRUNCATED"]).toContain(error.code);
    expect(error.message).toContain("opset_import");
  });
});

describe("bad external data", () => {
  it("an absolute location, even one that points at the model's own data file", {
    timeout: PROMPT,
  }, async () => {
    let absolute = "";
    const path = await editedModel((model, dir) => {
      absolute = join(dir, "m.onnx.data");
      setExternal("location", absolute)(model);
    });
    const error = await expectLoadError(path, "EXTERNAL_DATA_UNSAFE");
    expect(error.message).toContain('tensor "w"');
    expect(error.message).toContain(absolute);
    expect(error.message).toContain("absolute");
  });

  it("a location that climbs out with ../", { timeout: PROMPT }, async () => {
    const path = await editedModel((model, dir) => {
      copyFileSync(join(dir, "m.onnx.data"), join(root, "m.onnx.data"));
      setExternal("location", "../m.onnx.data")(model);
    });
    const error = await expectLoadError(path, "EXTERNAL_DATA_UNSAFE");
    expect(error.message).toContain("leaves the model's folder");
  });

  it("a location that climbs out through a subfolder (sub/../../x)", {
    timeout: PROMPT,
  }, async () => {
    const path = await editedModel((model, dir) => {
      mkdirSync(join(dir, "sub"));
      copyFileSync(join(dir, "m.onnx.data"), join(root, "m.onnx.data"));
      setExternal("location", "sub/../../m.onnx.data")(model);
    });
    await expectLoadError(path, "EXTERNAL_DATA_UNSAFE");
  });

  it("a symlink inside the folder that points outside it", { timeout: PROMPT }, async () => {
    const path = await editedModel((model, dir) => {
      const secret = join(root, "secret.data");
      writeFileSync(secret, new Uint8Array(64));
      symlinkSync(secret, join(dir, "link.data"));
      setExternal("location", "link.data")(model);
    });
    const error = await expectLoadError(path, "EXTERNAL_DATA_UNSAFE");
    expect(error.message).toContain("link");
  });

  it("a symlink that stays inside the folder is fine", { timeout: PROMPT }, async () => {
    const path = await editedModel((model, dir) => {
      symlinkSync(join(dir, "m.onnx.data"), join(dir, "alias.data"));
      setExternal("location", "alias.data")(model);
    });
    const model = await loadModel(path);
    const w = model.graph.initializers.get("w")!.constValue;
    expect(w && "bytes" in w && w.bytes()).toEqual(new Uint8Array(randomFloats(16, 1).buffer));
  });

  it("a missing data file", { timeout: PROMPT }, async () => {
    const path = await editedModel((_, dir) => rmSync(join(dir, "m.onnx.data")));
    const error = await expectLoadError(path, "EXTERNAL_DATA_MISSING");
    expect(error.message).toContain("m.onnx.data");
  });

  it("an offset past the end of the data file", { timeout: PROMPT }, async () => {
    const path = await editedModel(setExternal("offset", "4096"));
    const error = await expectLoadError(path, "EXTERNAL_DATA_OUT_OF_RANGE");
    expect(error.message).toContain("but that file has 64 bytes");
  });

  it("a length past the end of the data file", { timeout: PROMPT }, async () => {
    const path = await editedModel(setExternal("length", "128"));
    const error = await expectLoadError(path, "EXTERNAL_DATA_OUT_OF_RANGE");
    expect(error.message).toContain("bytes 0..128");
  });

  it.each(["12abc", "-16", "", "0x10"])(
    "a non-numeric offset (%j)",
    { timeout: PROMPT },
    async (offset) => {
      const path = await editedModel(setExternal("offset", offset));
      const error = await expectLoadError(path, "EXTERNAL_DATA_INVALID");
      expect(error.message).toContain('"offset"');
    },
  );

  it("an external length that does not match the dims", { timeout: PROMPT }, async () => {
    const path = await editedModel(setExternal("length", "60"));
    const error = await expectLoadError(path, "TENSOR_SIZE_MISMATCH");
    expect(error.message).toContain('tensor "w"');
    expect(error.message).toContain("60 bytes");
  });
});

describe("bad tensors", () => {
  it("raw_data whose length does not match the dims", { timeout: PROMPT }, async () => {
    const path = await editedModel((model) => {
      const bias = initializer(model, "bias");
      bias.rawData = bias.rawData.subarray(0, 12);
    });
    const error = await expectLoadError(path, "TENSOR_SIZE_MISMATCH");
    expect(error.message).toContain('tensor "bias"');
    expect(error.message).toContain("12 bytes");
  });

  it("an unknown data type number", { timeout: PROMPT }, async () => {
    const path = await editedModel((model) => {
      initializer(model, "bias").dataType = 99;
    });
    const error = await expectLoadError(path, "UNSUPPORTED_DATA_TYPE");
    expect(error.message).toContain("99");
    expect(error.where).toContain('tensor "bias"');
  });
});
