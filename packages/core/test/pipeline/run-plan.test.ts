import { join } from "node:path";
import { isLatheError, loadPlugins, type PluginRegistry, planRecipe } from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { planRun } from "../../src/pipeline/run-plan.js";
import { makeRecipe, stageGraph, TEST_PLUGIN } from "./recipe-fixture.js";

const tempDir = tempDirs(afterAll);

const root = tempDir("lathe-run-plan-");
let registry: PluginRegistry;
beforeAll(async () => {
  registry = await loadPlugins([TEST_PLUGIN], root);
});

const steps = {
  a: { use: "test/rename-nodes" },
  b: { use: "test/scale-output" },
  c: { use: "test/probe-output", input: "a" },
  d: { use: "test/scale-output", input: "model" },
};

describe("planRun", () => {
  it("places outputs, report and cache beside the recipe and writes every candidate", async () => {
    const recipe = await makeRecipe(root, steps, {
      output: { dir: "out", cache: "cache", externalDataThreshold: 1024 },
    });
    const plan = planRun(stageGraph(planRecipe(recipe, registry)));
    expect(plan.outputDir).toBe(join(root, "out"));
    expect(plan.reportPath).toBe(join(root, "out", "report.json"));
    expect(plan.cache.dir).toBe(join(root, "cache"));
    expect(plan.saveOptions).toEqual({ externalData: { threshold: 1024 } });
    expect([...plan.needed]).toEqual(["a", "b", "c", "d"]);
    expect(plan.targets).toEqual(["b", "c", "d"]);
  });

  it("with --only, runs the step's chain and writes only it", async () => {
    const plan = planRun(stageGraph(planRecipe(await makeRecipe(root, steps), registry)), {
      only: "c",
    });
    expect([...plan.needed].sort()).toEqual(["a", "c"]);
    expect(plan.targets).toEqual(["c"]);
    expect(plan.saveOptions).toEqual({});
  });

  it("refuses --only naming a disabled or unknown step, saying which steps there are", async () => {
    const graph = stageGraph(
      planRecipe(
        await makeRecipe(root, { ...steps, off: { use: "test/fail", enabled: false } }),
        registry,
      ),
    );
    const error = (() => {
      try {
        planRun(graph, { only: "off" });
      } catch (e) {
        return e;
      }
    })();
    expect(isLatheError(error) && error.code).toBe("ONLY_STEP_INVALID");
    expect(isLatheError(error) && error.hint).toBe("enable it (enabled: true) to run it");
    expect(() => planRun(graph, { only: "zz" })).toThrow(/no such step/);
  });
});
