import { mkdtemp, readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import {
  loadPlugins,
  type PluginRegistry,
  planRecipe,
  type Recipe,
  runPipeline,
  saveModel,
} from "@lathe/core";
import { maxAbsDiff, tempDirs } from "@lathe/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import zooPlugin, { buildZooSource, zooModels } from "../../../plugins/zoo/src/index.js";
import { runLm } from "./ort-helpers.js";
import { makeRecipe, TEST_PLUGIN } from "./recipe-fixture.js";

const tempDir = tempDirs(afterAll);

const root = tempDir("lathe-publish-");
let registry: PluginRegistry;
let reference: Float32Array;
beforeAll(async () => {
  registry = await loadPlugins([TEST_PLUGIN], root, { builtins: [zooPlugin] });
  const model = buildZooSource(zooModels, "zoo:llama?size=tiny").bundle.components.get("model")!;
  await saveModel(model, join(root, "input.onnx"), { externalData: { threshold: 1024 } });
  reference = await runLm(join(root, "input.onnx"));
});

const run = (recipe: Recipe) => runPipeline(planRecipe(recipe, registry));
const inode = async (path: string) => (await stat(path)).ino;

describe("publishing candidates", () => {
  it("links each candidate's files to its cache entry, without the entry's metadata", async () => {
    const dir = await mkdtemp(join(root, "links-"));
    const result = await run(
      await makeRecipe(dir, { double: { use: "test/scale-output", options: { factor: 2 } } }),
    );
    const key = result.report.steps[0]!.cacheKey!;
    const entry = join(dir, ".lathe", "cache", key);
    expect((await readdir(result.outputs.double!)).sort()).toEqual([
      ".lathe-output",
      "bundle.json",
      "model.onnx",
    ]);
    for (const file of ["bundle.json", "model.onnx"]) {
      expect(await inode(join(result.outputs.double!, file))).toBe(await inode(join(entry, file)));
    }
    const doubled = await runLm(join(result.outputs.double!, "model.onnx"));
    expect(
      maxAbsDiff(
        doubled,
        reference.map((x) => 2 * x),
      ),
    ).toBeLessThan(1e-4);
  });

  it("writes an input file as the baseline by linking it and its external data", async () => {
    const dir = await mkdtemp(join(root, "baseline-"));
    const result = await run(
      await makeRecipe(
        dir,
        { off: { use: "test/fail", enabled: false } },
        {
          model: join(root, "input.onnx"),
        },
      ),
    );
    const folder = result.outputs.model!;
    expect((await readdir(folder)).sort()).toEqual([
      ".lathe-output",
      "bundle.json",
      "input.onnx.data",
      "model.onnx",
    ]);
    expect(await inode(join(folder, "model.onnx"))).toBe(await inode(join(root, "input.onnx")));
    expect(await inode(join(folder, "input.onnx.data"))).toBe(
      await inode(join(root, "input.onnx.data")),
    );
    expect(JSON.parse(await readFile(join(folder, "bundle.json"), "utf8")).components).toEqual({
      model: "model.onnx",
    });
    expect(maxAbsDiff(await runLm(join(folder, "model.onnx")), reference)).toBe(0);
  });

  it("saves a model source once, in the cache, and links the baseline and the reference to it", async () => {
    const dir = await mkdtemp(join(root, "source-"));
    const recipe = await makeRecipe(
      dir,
      { off: { use: "test/fail", enabled: false } },
      { evaluate: { metrics: { "core/size": {} }, constraints: [] } },
    );
    const sizes = await loadPlugins([TEST_PLUGIN], root, {
      builtins: [zooPlugin, (await import("@lathe/core")).builtinMetricsPlugin],
    });
    const result = await runPipeline(planRecipe(recipe, sizes));
    const [saved] = await readdir(join(dir, ".lathe", "cache", "references"));
    const stored = join(dir, ".lathe", "cache", "references", saved!);
    expect(result.report.evaluation?.reference.path).toBe("zoo:llama?size=tiny");
    expect(await inode(join(result.outputs.model!, "model.onnx"))).toBe(
      await inode(join(stored, "model.onnx")),
    );
    // The selected copy is the same file again.
    expect(await inode(join(result.selected!, "model.onnx"))).toBe(
      await inode(join(stored, "model.onnx")),
    );
  });
});
