import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  builtinDataPlugin,
  type DataRecord,
  type DataSourceDefinition,
  DataType,
  decodeTensor,
  isLatheError,
  openSession,
  parseJsonRecords,
} from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterEach, describe, expect, test } from "vitest";
import {
  TESTDATA_MISSING,
  TESTDATA_ROOT,
  testdataInstalled,
} from "../../../../test/helpers/onnx-testdata.js";

const tempDir = tempDirs(afterEach);

const source = (id: string) =>
  builtinDataPlugin.dataSources.find((s) => s.id === id)! as DataSourceDefinition<never>;

async function records(
  id: string,
  options: Record<string, unknown>,
  base: string,
): Promise<DataRecord[]> {
  const set = source(id).open(options as never, { resolve: (p) => resolve(base, p) });
  const out: DataRecord[] = [];
  for await (const r of set.records()) out.push(r);
  return out;
}

const npyBytes = (values: number[], shape: number[]) => {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(", ")},), }`;
  const header = `${dict.padEnd(118 - 1, " ")}\n`;
  return Buffer.concat([
    Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length, 0]),
    Buffer.from(header, "latin1"),
    Buffer.from(Float32Array.from(values).buffer),
  ]);
};

describe("built-in data sources", () => {
  test("the plugin ships npy, npz, pb, json, random, images, audio and text with described options", () => {
    expect(builtinDataPlugin.dataSources.map((s) => s.id)).toEqual([
      "npy",
      "npz",
      "pb",
      "json",
      "random",
      "images",
      "audio",
      "text",
    ]);
    for (const s of builtinDataPlugin.dataSources) {
      for (const [key, schema] of Object.entries(s.options.properties)) {
        expect(schema.description, `${s.id}.${key}`).toBeTruthy();
      }
    }
  });

  test("npy: files per input, relative to the recipe, whole or split along the first axis", async () => {
    const dir = tempDir("lathe-data-");
    writeFileSync(join(dir, "x.npy"), npyBytes([1, 2, 3, 4, 5, 6], [3, 2]));
    const whole = await records("npy", { files: { x: "x.npy" }, split: false }, dir);
    expect(whole).toHaveLength(1);
    expect(whole[0]!.x!.dims).toEqual([3, 2]);
    const split = await records("npy", { files: { x: "x.npy" }, split: true }, dir);
    expect(split.map((r) => [...(r.x!.toArray() as Float32Array)])).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    expect(split[0]!.x!.dims).toEqual([1, 2]);
  });

  test("npy: a missing file names it", async () => {
    const base = tmpdir();
    const error = await records("npy", { files: { x: "nope.npy" }, split: false }, base).catch(
      (e) => e,
    );
    expect(isLatheError(error) && error.code).toBe("FILE_NOT_FOUND");
    expect(error.where).toBe(join(base, "nope.npy"));
  });

  test("json: plain nested arrays with dtypes, and {dtype, shape, data} entries", () => {
    const text = JSON.stringify([
      { input_ids: [[1, 2, 3]], x: [0.5, 1.5] },
      { input_ids: { dtype: "int64", shape: [1, 2], data: ["9007199254740993", 4] }, x: [2, 3] },
    ]);
    const [a, b] = parseJsonRecords(text, "d.json", { input_ids: "int64" });
    expect(a!.input_ids!.dataType).toBe(DataType.INT64);
    expect(a!.input_ids!.dims).toEqual([1, 3]);
    expect(a!.x!.dataType).toBe(DataType.FLOAT);
    expect([...(b!.input_ids!.toArray() as BigInt64Array)]).toEqual([9007199254740993n, 4n]);
  });

  test("json: broken files and ragged or mistyped arrays are refused, naming the file", () => {
    const fails = (text: string) => {
      try {
        parseJsonRecords(text, "d.json", { ids: "int64" });
      } catch (e) {
        return isLatheError(e) ? `${e.where}: ${e.message}` : String(e);
      }
      return "parsed";
    };
    expect(fails('{"x": [1, 2')).toMatch(/^d\.json: not a valid JSON data file: /);
    expect(fails('{"x": [[1, 2], [3]]}')).toBe(
      'd.json: not a valid JSON data file: record 0, "x": the nested arrays are ragged',
    );
    expect(fails('{"ids": [1.5]}')).toMatch(/1\.5 is not an integer/);
    expect(fails('{"x": ["a"]}')).toMatch(/"a" is not a float32 value/);
    expect(fails('{"x": {"dtype": "float32", "shape": [3], "data": [1, 2]}}')).toMatch(
      /2 values do not fill shape \[3\]/,
    );
  });

  test("random: N seeded samples from a declared signature", async () => {
    const options = {
      inputs: {
        input_ids: { dtype: "int64", shape: [1, 8] },
        attention_mask: { dtype: "int64", shape: [1, 8] },
      },
      samples: 3,
      seed: 5,
      vocabSize: 50,
    };
    const first = await records("random", options, "/");
    const again = await records("random", options, "/");
    expect(first).toHaveLength(3);
    const ids = first.map((r) => [...(r.input_ids!.toArray() as BigInt64Array)].map(Number));
    expect(ids.flat().every((i) => i >= 0 && i < 50)).toBe(true);
    expect(ids[0]).not.toEqual(ids[1]);
    expect(again.map((r) => [...(r.input_ids!.toArray() as BigInt64Array)].map(Number))).toEqual(
      ids,
    );
    expect([...(first[0]!.attention_mask!.toArray() as BigInt64Array)]).toEqual(Array(8).fill(1n));
  });

  test("pb: a file that is not a TensorProto is refused, naming it", async () => {
    const dir = tempDir("lathe-pb-");
    mkdirSync(join(dir, "test_data_set_0"));
    writeFileSync(
      join(dir, "test_data_set_0", "input_0.pb"),
      Buffer.from([0x0a, 0xff, 0xff, 0x01]),
    );
    const error = await records("pb", { dir: "." }, dir).catch((e) => e);
    expect(isLatheError(error) && error.code).toBe("DATA_FILE_INVALID");
    expect(error.where).toBe(join(dir, "test_data_set_0", "input_0.pb"));
  });
});

describe.skipIf(!testdataInstalled())("pb: the ONNX backend test data", () => {
  if (!testdataInstalled()) console.warn(`pb test-data tests skipped: ${TESTDATA_MISSING}`);

  for (const name of ["test_add", "test_gather_0", "test_matmul_4d"]) {
    test(`${name}: inputs read from the .pb files give the expected outputs on ORT`, async () => {
      const dir = join(TESTDATA_ROOT, "node", name);
      expect(existsSync(dir)).toBe(true);
      const session = await openSession(join(dir, "model.onnx"));
      try {
        const sets = await records("pb", { dir, inputs: session.inputs.map((i) => i.name) }, "/");
        expect(sets.length).toBeGreaterThan(0);
        const out = await session.run(sets[0]!);
        const expected = decodeTensor(readFileSync(join(dir, "test_data_set_0", "output_0.pb")));
        const got = out[session.outputs[0]!.name]!;
        expect(got.dims).toEqual(expected.dims);
        const a = Array.from(got.toArray() as ArrayLike<number>);
        const b = Array.from(expected.toArray() as ArrayLike<number>);
        for (const [i, v] of a.entries()) expect(v).toBeCloseTo(b[i]!, 4);
      } finally {
        await session.release();
      }
    });
  }

  test("input names come from the TensorProtos when not given", async () => {
    const sets = await records("pb", { dir: join(TESTDATA_ROOT, "node", "test_add") }, "/");
    expect(Object.keys(sets[0]!)).toEqual(["x", "y"]);
  });
});
