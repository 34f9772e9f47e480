import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  createBuilder,
  DataType,
  encodeModel,
  isLatheError,
  loadModel,
  type Model,
  type SaveOptions,
  saveModel,
  type Tensor,
} from "@lathe/core";
import { randomFloats, runFloats, tempDirs } from "@lathe/core/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

/** Small enough that the six external tensors need three data files. */
const SPLIT: SaveOptions = { externalData: { threshold: 1024, maxFileBytes: 40_000 } };
const EXTERNAL = ["w0", "bias_out", "w1", "w2", "w3", "w_out"];
const feeds = { x: { data: randomFloats(2 * 64, 99), dims: [2, 64] } };

/**
 * An MLP whose weights are created in an order that exercises the layout: w0 and w1 are
 * 16 KiB (4096-aligned), bias_out is 1028 bytes (16-aligned, pushing w1 to the next 4096
 * boundary), w_out is larger than a data file may be, and `b` stays inline (256 bytes).
 */
function mlp(): Model {
  const b = createBuilder();
  const w0 = b.constant(randomFloats(64 * 64, 1), [64, 64], DataType.FLOAT, "w0");
  const biasOut = b.constant(randomFloats(257, 2), [257], DataType.FLOAT, "bias_out");
  const w1 = b.constant(randomFloats(64 * 64, 3), [64, 64], DataType.FLOAT, "w1");
  const w2 = b.constant(randomFloats(64 * 64, 4), [64, 64], DataType.FLOAT, "w2");
  const w3 = b.constant(randomFloats(64 * 64, 5), [64, 64], DataType.FLOAT, "w3");
  const wOut = b.constant(randomFloats(64 * 257, 6), [64, 257], DataType.FLOAT, "w_out");
  const bias = b.constant(randomFloats(64, 7), [64], DataType.FLOAT, "b");
  let h = b.input("x", DataType.FLOAT, ["batch", 64]);
  for (const w of [w0, w1, w2, w3]) h = b.Tanh(b.Add(b.MatMul(h, w), bias));
  b.output(b.Add(b.MatMul(h, wOut), biasOut), "y", DataType.FLOAT, ["batch", 257]);
  return b.build();
}

function tensorOf(model: Model, name: string): Tensor {
  const c = model.graph.initializers.get(name)?.constValue;
  if (!c || "values" in c) throw new Error(`no dense initializer "${name}"`);
  return c;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the promise to reject");
}

const tempDir = tempDirs(afterEach);
let root: string;
beforeEach(() => {
  root = tempDir("lathe-external-");
});

/** Saves the MLP split over data files into `root/a`; returns the model, its path and the save result. */
async function savedSplit() {
  const model = mlp();
  const dir = join(root, "a");
  mkdirSync(dir);
  const path = join(dir, "m.onnx");
  const result = await saveModel(model, path, SPLIT);
  return { model, path, dir, result };
}

describe("saving with external data", () => {
  it("splits the weights over several files of the reported sizes, aligned, keeping small tensors inline", async () => {
    const { dir, path, result } = await savedSplit();
    expect(result.externalFiles.map((f) => f.path)).toEqual([
      join(dir, "m.onnx.data"),
      join(dir, "m.onnx.data.1"),
      join(dir, "m.onnx.data.2"),
    ]);
    for (const file of result.externalFiles) {
      expect(statSync(file.path).size).toBe(file.bytes);
      expect(file.bytes).toBeLessThanOrEqual(64 * 257 * 4); // only w_out's own file exceeds the limit
    }
    expect(statSync(path).size).toBe(result.bytes);
    expect(result.bytes).toBeLessThan(2048); // the weights are not in the .onnx file
    expect(readdirSync(dir).sort()).toEqual([
      "m.onnx",
      "m.onnx.data",
      "m.onnx.data.1",
      "m.onnx.data.2",
    ]);

    const loaded = await loadModel(path);
    const layout = EXTERNAL.map((name) => {
      const ref = tensorOf(loaded, name).external!;
      return [name, ref.location, ref.offset, ref.length];
    });
    expect(layout).toEqual([
      ["w0", "m.onnx.data", 0, 16384],
      ["bias_out", "m.onnx.data", 16384, 1028],
      ["w1", "m.onnx.data", 20480, 16384], // 17412 rounded up to 4096
      ["w2", "m.onnx.data.1", 0, 16384],
      ["w3", "m.onnx.data.1", 16384, 16384],
      ["w_out", "m.onnx.data.2", 0, 65792],
    ]);
    expect(tensorOf(loaded, "b").external).toBeUndefined();
  });

  it("loads lazily: nothing is read until asked, and reading one tensor reads only that one", async () => {
    const { model, path } = await savedSplit();
    const loaded = await loadModel(path);
    for (const name of EXTERNAL) {
      const t = tensorOf(loaded, name);
      expect(t.external, name).toBeDefined();
      expect(t.isLoaded, name).toBe(false);
      expect(t.byteLength).toBe(tensorOf(model, name).byteLength);
    }
    expect(tensorOf(loaded, "w2").bytes()).toEqual(tensorOf(model, "w2").bytes());
    expect(EXTERNAL.filter((name) => tensorOf(loaded, name).isLoaded)).toEqual(["w2"]);
    for (const name of EXTERNAL)
      expect(tensorOf(loaded, name).bytes(), name).toEqual(tensorOf(model, name).bytes());
  });

  it("runs on ORT from the path with outputs identical to the inline model", async () => {
    const { model, path } = await savedSplit();
    const inline = await runFloats(encodeModel(model), feeds);
    expect(inline.y).toHaveLength(2 * 257);
    expect(await runFloats(path, feeds)).toEqual(inline);
  });
});

describe("re-saving a model loaded with external data", () => {
  it("to another folder gives a self-contained copy", async () => {
    const { model, path, dir } = await savedSplit();
    const inline = await runFloats(encodeModel(model), feeds);
    const loaded = await loadModel(path);
    const other = join(root, "b");
    mkdirSync(other);
    const copy = join(other, "copy.onnx");
    const result = await saveModel(loaded, copy, SPLIT);
    expect(result.externalFiles).toHaveLength(3);
    rmSync(dir, { recursive: true });

    expect(await runFloats(copy, feeds)).toEqual(inline);
    // The in-memory model now reads from the new files.
    expect(tensorOf(loaded, "w3").external!.path).toBe(join(other, "copy.onnx.data.1"));
    expect(tensorOf(loaded, "w3").bytes()).toEqual(tensorOf(model, "w3").bytes());
    const reloaded = await loadModel(copy);
    for (const name of EXTERNAL)
      expect(tensorOf(reloaded, name).bytes()).toEqual(tensorOf(model, name).bytes());
  });

  it("in place, over the files it was loaded from", async () => {
    const { model, path, dir } = await savedSplit();
    const inline = await runFloats(encodeModel(model), feeds);
    const loaded = await loadModel(path);
    await saveModel(loaded, path, SPLIT);
    expect(readdirSync(dir).sort()).toEqual([
      "m.onnx",
      "m.onnx.data",
      "m.onnx.data.1",
      "m.onnx.data.2",
    ]);
    expect(await runFloats(path, feeds)).toEqual(inline);
    const reloaded = await loadModel(path);
    for (const name of EXTERNAL)
      expect(tensorOf(reloaded, name).bytes()).toEqual(tensorOf(model, name).bytes());
  });

  it("in place as a single inline file", async () => {
    const { model, path } = await savedSplit();
    const inline = await runFloats(encodeModel(model), feeds);
    const loaded = await loadModel(path);
    const result = await saveModel(loaded, path);
    expect(result.externalFiles).toEqual([]);
    expect(new Uint8Array(readFileSync(path))).toEqual(encodeModel(model));
    expect(await runFloats(path, feeds)).toEqual(inline);
  });
});

describe("a failed save leaves nothing behind", () => {
  it("when the target folder cannot be created", async () => {
    const model = mlp();
    writeFileSync(join(root, "a-file"), "not a folder");
    const inside = join(root, "a-file", "m.onnx");
    for (const options of [SPLIT, {}]) {
      const error = await rejection(saveModel(model, inside, options));
      expect(isLatheError(error) && error.code).toBe("CANNOT_WRITE");
    }
    expect(readdirSync(root)).toEqual(["a-file"]);
  });

  it("creates a missing target folder", async () => {
    const path = join(root, "new", "deeper", "m.onnx");
    await saveModel(mlp(), path, SPLIT);
    expect((await loadModel(path)).graph.nodeCount).toBeGreaterThan(0);
  });

  it("when a tensor's external file was deleted (saving elsewhere)", async () => {
    const { path, dir } = await savedSplit();
    const loaded = await loadModel(path);
    rmSync(join(dir, "m.onnx.data.1"));
    const other = join(root, "b");
    mkdirSync(other);
    const error = await rejection(saveModel(loaded, join(other, "m.onnx"), SPLIT));
    expect(isLatheError(error) && error.code).toBe("EXTERNAL_DATA_MISSING");
    expect(error.message).toContain("m.onnx.data.1");
    expect(readdirSync(other)).toEqual([]);
  });

  it("when a tensor's external file was deleted (saving in place)", async () => {
    const { path, dir } = await savedSplit();
    const before = readFileSync(path);
    const loaded = await loadModel(path);
    rmSync(join(dir, "m.onnx.data.1"));
    await rejection(saveModel(loaded, path, SPLIT));
    expect(readdirSync(dir).sort()).toEqual(["m.onnx", "m.onnx.data", "m.onnx.data.2"]);
    expect(readFileSync(path)).toEqual(before);
  });
});
