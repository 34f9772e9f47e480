import { existsSync } from "node:fs";
import { mkdir, mkdtemp, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { loadPlugins, type PipelineEvent, planRecipe } from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, describe, expect, it } from "vitest";
import type { Selection } from "../../src/evaluate/select.js";
import { replaceFolder } from "../../src/pipeline/replace-folder.js";
import { planRun } from "../../src/pipeline/run-plan.js";
import { publishSelection, SELECTED } from "../../src/pipeline/select-output.js";
import { makeRecipe, stageGraph, TEST_PLUGIN } from "./recipe-fixture.js";

const tempDir = tempDirs(afterAll);

const root = tempDir("lathe-select-");

async function setup() {
  const dir = await mkdtemp(join(root, "run-"));
  const registry = await loadPlugins([TEST_PLUGIN], root);
  const events: PipelineEvent[] = [];
  const plan = planRun(
    stageGraph(planRecipe(await makeRecipe(dir, { a: { use: "test/fail" } }), registry)),
    {
      onEvent: (e) => events.push(e),
    },
  );
  const candidates = ["a", "b"].map((step) => ({
    step,
    output: step,
    path: join(plan.outputDir, step),
    digest: step,
  }));
  for (const c of candidates) {
    await mkdir(c.path, { recursive: true });
    await writeFile(join(c.path, "model.onnx"), c.step);
  }
  return { plan, candidates, events };
}

describe("publishSelection", () => {
  it("links the objective's winner into selected/", async () => {
    const { plan, candidates, events } = await setup();
    const selection: Selection = {
      kind: "objective",
      objective: { name: "size.bytes", direction: "minimize" },
      selected: "b",
      tiedWith: [],
      reason: "smallest",
    };
    expect(await publishSelection(plan, selection, candidates)).toBe(SELECTED);
    const folder = join(plan.outputDir, SELECTED);
    expect((await stat(join(folder, "model.onnx"))).ino).toBe(
      (await stat(join(plan.outputDir, "b", "model.onnx"))).ino,
    );
    expect(events).toEqual([{ type: "selected", steps: ["b"], reason: "smallest", path: folder }]);
  });

  it("removes an earlier selected/ when this run chose none, and names a Pareto front", async () => {
    const { plan, candidates, events } = await setup();
    await replaceFolder(join(plan.outputDir, SELECTED), async () => {});
    const selection: Selection = {
      kind: "pareto",
      objectives: [
        { name: "size.bytes", direction: "minimize" },
        { name: "latency.p50", direction: "minimize" },
      ],
      front: ["a", "b"],
      reason: "two trade-offs",
    };
    expect(await publishSelection(plan, selection, candidates)).toBeUndefined();
    expect(existsSync(join(plan.outputDir, SELECTED))).toBe(false);
    expect(events).toEqual([{ type: "selected", steps: ["a", "b"], reason: "two trade-offs" }]);
  });
});
