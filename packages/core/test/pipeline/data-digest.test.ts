import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Recipe } from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, describe, expect, it } from "vitest";
import { npzBytes, tokenInputs } from "../../../../test/helpers/npz.js";
// From source, as the module under test: a registry typed by the built package would not fit it.
import { builtinDataPlugin } from "../../src/data/plugin.js";
import { DataDigests, dataNamesIn } from "../../src/pipeline/data-digest.js";
import { PluginRegistry } from "../../src/plugin/registry.js";
import { makeRecipe } from "./recipe-fixture.js";

const tempDir = tempDirs(afterAll);

const root = tempDir("lathe-data-digest-");
const registry = new PluginRegistry([builtinDataPlugin]);

async function recipeWith(dir: string, data: Recipe["data"]): Promise<Recipe> {
  return makeRecipe(dir, {}, { data });
}

/** The digest of data set `name`, computed afresh (a new run). */
async function digest(recipe: Recipe, name: string): Promise<string> {
  return new DataDigests(recipe, registry).digest(name);
}

describe("data digests", () => {
  it("names the data sets options name, at any depth", () => {
    const data = { calib: { use: "npz", options: {} }, eval: { use: "npz", options: {} } };
    expect(
      dataNamesIn({ calibration: "calib", gptq: { data: ["eval"] }, x: "other" }, data),
    ).toEqual(["calib", "eval"]);
    expect(dataNamesIn({ samples: 4 }, data)).toEqual([]);
  });

  it("follow the contents of an .npz file, not its name or time", async () => {
    const dir = await mkdtemp(join(root, "npz-"));
    const r = await recipeWith(dir, { calib: { use: "npz", options: { path: "c.npz" } } });
    await writeFile(join(dir, "c.npz"), npzBytes(tokenInputs(2, 8, 100, 1)));
    const first = await digest(r, "calib");
    await writeFile(join(dir, "c.npz"), npzBytes(tokenInputs(2, 8, 100, 1)));
    expect(await digest(r, "calib")).toBe(first);
    await writeFile(join(dir, "c.npz"), npzBytes(tokenInputs(2, 8, 100, 2)));
    expect(await digest(r, "calib")).not.toBe(first);
  });

  it("cover every file of a pb folder, and a file that is missing", async () => {
    const dir = await mkdtemp(join(root, "pb-"));
    const r = await recipeWith(dir, { t: { use: "pb", options: { dir: "cases" } } });
    const absent = await digest(r, "t");
    await mkdir(join(dir, "cases", "test_data_set_0"), { recursive: true });
    await writeFile(join(dir, "cases", "test_data_set_0", "input_0.pb"), "a");
    const one = await digest(r, "t");
    expect(one).not.toBe(absent);
    await writeFile(join(dir, "cases", "test_data_set_0", "input_0.pb"), "b");
    const edited = await digest(r, "t");
    expect(edited).not.toBe(one);
    await mkdir(join(dir, "cases", "test_data_set_1"));
    await writeFile(join(dir, "cases", "test_data_set_1", "input_0.pb"), "b");
    expect(await digest(r, "t")).not.toBe(edited);
  });

  it("key generated data by its options: the seed changes it", async () => {
    const dir = await mkdtemp(join(root, "random-"));
    const spec = (seed: number) => ({
      use: "random",
      options: { inputs: { x: { dtype: "float32", shape: [2] } }, samples: 2, seed, vocabSize: 10 },
    });
    const a = await digest(await recipeWith(dir, { g: spec(0) }), "g");
    expect(await digest(await recipeWith(dir, { g: spec(0) }), "g")).toBe(a);
    expect(await digest(await recipeWith(dir, { g: spec(1) }), "g")).not.toBe(a);
  });
});
