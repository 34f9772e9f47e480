import { loadPlugins, type PipelineEvent, planRecipe } from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, describe, expect, it } from "vitest";
import { StepRecord } from "../../src/pipeline/step-record.js";
import { makeRecipe, stageGraph, TEST_PLUGIN } from "./recipe-fixture.js";

const tempDir = tempDirs(afterAll);

const root = tempDir("lathe-step-record-");

describe("StepRecord", () => {
  it("tells each ending as it happens; closing marks unreached steps and lists disabled ones last", async () => {
    const registry = await loadPlugins([TEST_PLUGIN], root);
    const graph = stageGraph(
      planRecipe(
        await makeRecipe(root, {
          a: { use: "test/rename-nodes" },
          off: { use: "test/fail", enabled: false },
          b: { use: "test/fail" },
        }),
        registry,
      ),
    );
    const events: PipelineEvent[] = [];
    const record = new StepRecord(graph, (e) => events.push(e));
    record.fail(graph.steps[0]!, { durationMs: 3, cacheKey: "k" }, "/out/failed-a");
    expect(record.failed).toEqual({ step: "a", reproducer: "/out/failed-a" });
    expect(record.close()).toEqual([
      {
        id: "a",
        pass: "test/rename-nodes",
        plugin: "lathe-plugin-test@1.0.0",
        input: "model",
        status: "failed",
        durationMs: 3,
        cacheKey: "k",
      },
      {
        id: "b",
        pass: "test/fail",
        plugin: "lathe-plugin-test@1.0.0",
        input: "a",
        status: "skipped",
        reason: "not-reached",
      },
      {
        id: "off",
        pass: "test/fail",
        plugin: "lathe-plugin-test@1.0.0",
        input: "a",
        status: "skipped",
        reason: "disabled",
      },
    ]);
    expect(events).toEqual([
      { type: "step-end", step: "a", status: "failed", durationMs: 3 },
      { type: "step-end", step: "b", status: "skipped", reason: "not-reached", durationMs: 0 },
    ]);
  });
});
