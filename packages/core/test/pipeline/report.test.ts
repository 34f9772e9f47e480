import { join } from "node:path";
import { errors, LatheError, loadPlugins, planRecipe } from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, describe, expect, it } from "vitest";
import { buildRunReport, type RunOutcome } from "../../src/pipeline/report.js";
import { planRun } from "../../src/pipeline/run-plan.js";
import { makeRecipe, stageGraph, TEST_PLUGIN } from "./recipe-fixture.js";

const tempDir = tempDirs(afterAll);

const root = tempDir("lathe-report-");

async function outcome(extra: Partial<RunOutcome>): Promise<RunOutcome> {
  const registry = await loadPlugins([TEST_PLUGIN], root);
  const plan = planRun(
    stageGraph(planRecipe(await makeRecipe(root, { a: { use: "test/fail" } }), registry)),
  );
  return {
    plan,
    recipeSha: "abc",
    startedAt: new Date(0),
    durationMs: 12.6,
    input: {
      reference: "zoo:x",
      digest: "d",
      load: async () => ({ components: new Map(), metadata: {} }),
    },
    steps: [
      { id: "a", pass: "test/fail", plugin: "p@1", input: "model", status: "ran" },
      { id: "b", pass: "test/fail", plugin: "p@1", input: "a", status: "cached" },
    ],
    candidates: [{ step: "b", output: "b", path: join(root, "out", "b"), digest: "k" }],
    evaluation: undefined,
    thrown: undefined,
    failed: undefined,
    ...extra,
  };
}

describe("buildRunReport", () => {
  it("records the recipe's name and description", async () => {
    const base = await outcome({});
    const graph = {
      ...base.plan.graph,
      recipe: { ...base.plan.graph.recipe, name: "n", description: "d" },
    };
    const report = buildRunReport({ ...base, plan: { ...base.plan, graph } });
    expect(report.recipe).toMatchObject({ name: "n", description: "d" });
    expect(buildRunReport(base).recipe).not.toHaveProperty("name");
  });

  it("reports a finished run: counts, candidates as report.json names them, no error", async () => {
    const report = buildRunReport(await outcome({}));
    expect(report).toMatchObject({
      schemaVersion: 1,
      status: "ok",
      recipe: { file: join(root, "recipe.yaml"), sha256: "abc" },
      input: { reference: "zoo:x", digest: "d" },
      startedAt: "1970-01-01T00:00:00.000Z",
      durationMs: 13,
      cache: { dir: join(root, ".lathe", "cache"), hits: 1, misses: 1 },
      candidates: [{ step: "b", output: "b" }],
    });
    expect(report.error).toBeUndefined();
  });

  it("names the failed step and its reproducer; an interrupted run only its error", async () => {
    const failed = buildRunReport(
      await outcome({
        thrown: new LatheError("PASS_FAILED", "boom"),
        failed: { step: "a", reproducer: "/out/failed-a" },
      }),
    );
    expect(failed.status).toBe("failed");
    expect(failed.error).toEqual({
      code: "PASS_FAILED",
      message: "boom",
      step: "a",
      reproducer: "/out/failed-a",
    });
    const interrupted = buildRunReport(
      await outcome({ thrown: errors.runInterrupted("a"), input: undefined }),
    );
    expect(interrupted.status).toBe("interrupted");
    expect(interrupted.error?.code).toBe("INTERRUPTED");
    expect(interrupted.input).toBeNull();
    const internal = buildRunReport(await outcome({ thrown: new TypeError("x is undefined") }));
    expect(internal.error).toEqual({ code: "INTERNAL", message: "x is undefined" });
  });
});
