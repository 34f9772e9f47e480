import { readdirSync, rmSync } from "node:fs";
import { mkdtemp, readdir } from "node:fs/promises";
import { join } from "node:path";
import {
  encodeModel,
  isLatheError,
  loadBundle,
  loadPlugins,
  type PipelineEvent,
  type PluginRegistry,
  planRecipe,
  type Recipe,
  saveModel,
} from "@lathe/core";
import { maxAbsDiff, tempDirs } from "@lathe/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import zooPlugin, { buildZooSource, zooModels } from "../../../plugins/zoo/src/index.js";
import { type ExecutedSteps, executeSteps } from "../../src/pipeline/execute.js";
import { openRecipeInput } from "../../src/pipeline/input.js";
import { planRun } from "../../src/pipeline/run-plan.js";
import { StepRecord } from "../../src/pipeline/step-record.js";
import { runLm } from "./ort-helpers.js";
import { makeRecipe, type Steps, stageGraph, TEST_PLUGIN } from "./recipe-fixture.js";

const tempDir = tempDirs(afterAll);

const root = tempDir("lathe-execute-");
let registry: PluginRegistry;
let reference: Float32Array;
beforeAll(async () => {
  registry = await loadPlugins([TEST_PLUGIN], root, { builtins: [zooPlugin] });
  const model = buildZooSource(zooModels, "zoo:llama?size=tiny").bundle.components.get("model")!;
  reference = await runLm(encodeModel(model));
});

/** Executes the recipe's steps; `afterStep` runs (synchronously) when a step has stored its output. */
async function execute(recipe: Recipe, afterStep: (step: string) => void = () => {}) {
  const onEvent = (event: PipelineEvent) => {
    if (event.type === "step-end" && event.status === "ran") afterStep(event.step);
  };
  const plan = planRun(stageGraph(planRecipe(recipe, registry)), { onEvent });
  const record = new StepRecord(plan.graph, plan.emit);
  const input = await openRecipeInput(plan.graph.recipe, plan.graph.registry, plan.signal);
  const executed = await executeSteps(plan, input, record).catch((error: unknown) => error);
  const keys = (key: string) => {
    if (executed instanceof Error) throw executed;
    return join(plan.cache.dir, (executed as ExecutedSteps).keys.get(key)!);
  };
  return { record, executed, entry: keys };
}

/** Deletes every complete cache entry, so a step that reloads its input cannot find it. */
function emptyCache(dir: string): void {
  for (const name of readdirSync(join(dir, ".lathe", "cache"))) {
    if (name !== ".tmp") rmSync(join(dir, ".lathe", "cache", name), { recursive: true });
  }
}

describe("executeSteps", () => {
  it("hands a step's output to the next step in memory (the cache is written, not read)", async () => {
    const dir = await mkdtemp(join(root, "chain-"));
    const steps: Steps = {
      rename: { use: "test/rename-nodes", options: { prefix: "r/" } },
      double: { use: "test/scale-output", options: { factor: 2 } },
    };
    const { record, entry } = await execute(await makeRecipe(dir, steps), (step) => {
      if (step === "rename") emptyCache(dir);
    });
    const stored = entry("double");
    expect(record.close().map((s) => s.status)).toEqual(["ran", "ran"]);
    const model = (await loadBundle(stored)).components.get("model")!;
    expect(model.graph.first!.name.startsWith("r/")).toBe(true);
    const doubled = await runLm(join(stored, "model.onnx"));
    expect(
      maxAbsDiff(
        doubled,
        reference.map((x) => 2 * x),
      ),
    ).toBeLessThan(1e-4);
  });

  it("gives a branch point's second reader a copy from the cache, untouched by the first", async () => {
    const dir = await mkdtemp(join(root, "branch-"));
    const steps: Steps = {
      rename: { use: "test/rename-nodes", options: { prefix: "r/" } },
      again: { use: "test/rename-nodes", options: { prefix: "a/" } },
      other: { use: "test/rename-nodes", input: "rename", options: { prefix: "o/" } },
    };
    const recipe = await makeRecipe(dir, steps);
    const other = await loadBundle((await execute(recipe)).entry("other"));
    expect(other.components.get("model")!.graph.first!.name.startsWith("o/r/")).toBe(true);

    // Without the cache entry, the second reader has nothing to read: it does not share memory.
    const fresh = await mkdtemp(join(root, "branch-gone-"));
    const gone = await execute(await makeRecipe(fresh, steps), (step) => {
      if (step === "again") emptyCache(fresh);
    });
    expect(isLatheError(gone.executed) && gone.executed.code).toBe("FILE_NOT_FOUND");
    expect(gone.record.close().map((s) => s.status)).toEqual(["ran", "ran", "failed"]);
  });

  it("hands on a bundle whose external data moved into the cache entry", async () => {
    const dir = await mkdtemp(join(root, "external-"));
    const model = buildZooSource(zooModels, "zoo:llama?size=tiny").bundle.components.get("model")!;
    await saveModel(model, join(dir, "input.onnx"), { externalData: { threshold: 256 } });
    const recipe = await makeRecipe(
      dir,
      {
        rename: { use: "test/rename-nodes" },
        triple: { use: "test/scale-output", options: { factor: 3 } },
      },
      {
        model: "./input.onnx",
        output: { dir: "out", cache: ".lathe/cache", externalDataThreshold: 256 },
      },
    );
    const stored = (await execute(recipe)).entry("triple");
    expect((await readdir(stored)).sort()).toContain("model.onnx.data");
    const tripled = await runLm(join(stored, "model.onnx"));
    expect(
      maxAbsDiff(
        tripled,
        reference.map((x) => 3 * x),
      ),
    ).toBeLessThan(1e-4);
  });
});
