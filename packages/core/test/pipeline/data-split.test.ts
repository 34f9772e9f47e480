import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isLatheError, type LatheError, type Recipe, RecipeError } from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import pngjs from "pngjs";
import { afterAll, describe, expect, test } from "vitest";
// From source, as the modules under test.
import { builtinDataPlugin } from "../../src/data/plugin.js";
import { DataDigests, dataNamesIn } from "../../src/pipeline/data-digest.js";
import { partIndices } from "../../src/pipeline/data-split.js";
import { openRecipeData } from "../../src/pipeline/recipe-data.js";
import { PluginRegistry } from "../../src/plugin/registry.js";
import { loadRecipe } from "../../src/recipe/validate.js";

const tempDir = tempDirs(afterAll);

const root = tempDir("lathe-split-");
const registry = new PluginRegistry([builtinDataPlugin]);

/** A folder of `count` one-pixel PNGs whose red value is the image's number. */
function images(dir: string, count: number): void {
  mkdirSync(join(dir, "img"), { recursive: true });
  for (let i = 0; i < count; i++) {
    const png = new pngjs.PNG({ width: 1, height: 1 });
    png.data.set([i, 0, 0, 255]);
    writeFileSync(join(dir, "img", `${String(i).padStart(3, "0")}.png`), pngjs.PNG.sync.write(png));
  }
}

function recipeFile(dir: string, split: string): string {
  const file = join(dir, "recipe.yaml");
  writeFileSync(
    file,
    `model: m.onnx
data:
  digits:
    use: images
    options: { path: img, input: x, scale: 1 }
    split:
${split}
`,
  );
  return file;
}

/** The image numbers a data name yields, in order. */
async function numbers(recipe: Recipe, name: string): Promise<number[]> {
  const set = openRecipeData(recipe as never, registry, name, { by: "the test", at: ["evaluate"] });
  const out: number[] = [];
  for await (const record of set.records()) out.push(Number(record.x!.toArray()[0]));
  return out;
}

describe("data splits", () => {
  test("parts are disjoint, cover what they ask for, read in source order, and follow the seed", async () => {
    const dir = mkdtempSync(join(root, "parts-"));
    images(dir, 20);
    const load = (seed: number) =>
      loadRecipe(
        recipeFile(
          dir,
          `      seed: ${seed}\n      parts: { calib: 5, probe: 0.25, heldout: rest }`,
        ),
        registry as never,
      );
    const recipe = await load(7);
    const calib = await numbers(recipe, "calib");
    const probe = await numbers(recipe, "probe");
    const heldout = await numbers(recipe, "heldout");
    expect([calib.length, probe.length, heldout.length]).toEqual([5, 5, 10]);
    expect([...calib, ...probe, ...heldout].sort((a, b) => a - b)).toEqual(
      Array.from({ length: 20 }, (_, i) => i),
    );
    for (const part of [calib, probe, heldout])
      expect(part).toEqual([...part].sort((a, b) => a - b));
    // The whole data set is still a data set; the same seed gives the same parts, another not.
    expect(await numbers(recipe, "digits")).toHaveLength(20);
    expect(await numbers(await load(7), "calib")).toEqual(calib);
    expect(await numbers(await load(8), "calib")).not.toEqual(calib);
    expect(dataNamesIn({ calibration: "calib", data: "heldout" }, recipe.data as never)).toEqual([
      "calib",
      "heldout",
    ]);
    const count = openRecipeData(recipe as never, registry, "heldout", {
      by: "the test",
      at: ["evaluate"],
    }).count;
    expect(await count!()).toBe(10);
  });

  test("a part's cache key follows the data set's files, the split and the part", async () => {
    const dir = mkdtempSync(join(root, "keys-"));
    images(dir, 6);
    const recipe = await loadRecipe(
      recipeFile(dir, "      parts: { a: 2, b: rest }"),
      registry as never,
    );
    const digests = new DataDigests(recipe as never, registry);
    const [a, b, whole] = [
      await digests.digest("a"),
      await digests.digest("b"),
      await digests.digest("digits"),
    ];
    expect(new Set([a, b, whole]).size).toBe(3);
    images(dir, 7);
    expect(await new DataDigests(recipe as never, registry).digest("a")).not.toBe(a);
    const reseeded = await loadRecipe(
      recipeFile(dir, "      seed: 3\n      parts: { a: 2, b: rest }"),
      registry as never,
    );
    expect(await new DataDigests(reseeded as never, registry).digest("a")).not.toBe(
      await new DataDigests(recipe as never, registry).digest("a"),
    );
  });

  test("a split that asks for more than there is fails at the split's line", async () => {
    const dir = mkdtempSync(join(root, "more-"));
    images(dir, 3);
    const recipe = await loadRecipe(
      recipeFile(dir, "      parts: { a: 2, b: 2 }"),
      registry as never,
    );
    const error = await numbers(recipe, "a").catch((e: unknown) => e as LatheError);
    expect(isLatheError(error)).toBe(true);
    expect((error as LatheError).message).toMatch(/ask for 4 records, but the data set has 3/);
    expect((error as LatheError).where).toMatch(
      /recipe\.yaml:\d+:\d+ data\.digits\.split\.parts\.a$/,
    );
    expect(() => partIndices(10, { seed: 0, parts: { a: 0.05, b: "rest" } }, "here")).toThrow(
      /part "a" of the split would hold no record/,
    );
  });

  test("validation: part names are data set names, one rest, counts and fractions", async () => {
    const dir = mkdtempSync(join(root, "invalid-"));
    const file = recipeFile(dir, "      parts: { digits: 2, x: rest, y: rest, z: 1.5, w: 0 }");
    const error = await loadRecipe(file, registry as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RecipeError);
    const text = (error as RecipeError).format(dir);
    expect(text).toMatch(
      /data\.digits\.split\.parts\.digits: part "digits" has the name of the data set "digits"/,
    );
    expect(text).toMatch(/data\.digits\.split\.parts\.y: 2 parts are "rest"/);
    expect(text).toMatch(/data\.digits\.split\.parts\.z/);
    expect(text).toMatch(/data\.digits\.split\.parts\.w/);
  });
});
