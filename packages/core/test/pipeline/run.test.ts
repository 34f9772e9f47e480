import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  encodeModel,
  FOLDER_MARKER,
  isLatheError,
  loadBundle,
  loadModel,
  loadPlugins,
  type PipelineEvent,
  type PluginRegistry,
  planRecipe,
  type Recipe,
  type RunReport,
  type RunResult,
  runPipeline,
} from "@lathe/core";
import { maxAbsDiff, tempDirs } from "@lathe/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import zooPlugin, { buildZooSource, zooModels } from "../../../plugins/zoo/src/index.js";
import { gelu, runLm } from "./ort-helpers.js";
import { makeRecipe, type Steps, TEST_PLUGIN } from "./recipe-fixture.js";

const tempDir = tempDirs(afterAll);

const root = tempDir("lathe-run-");
let registry: PluginRegistry;
let reference: Float32Array;
/** How many nodes the zoo's tiny llama has (the zoo evolves; the tests follow it). */
let llamaNodes: number;

beforeAll(async () => {
  registry = await loadPlugins([TEST_PLUGIN], root, { builtins: [zooPlugin] });
  const model = buildZooSource(zooModels, "zoo:llama?size=tiny").bundle.components.get("model")!;
  reference = await runLm(encodeModel(model));
  llamaNodes = model.graph.nodeCount;
  expect(llamaNodes).toBeGreaterThan(100);
});

async function run(recipe: Recipe, options: Parameters<typeof runPipeline>[1] = {}) {
  return runPipeline(planRecipe(recipe, registry), options);
}

/** The LatheError a run throws (failing the test when it does not throw one). */
async function runError(recipe: Recipe, options: Parameters<typeof runPipeline>[1] = {}) {
  const error = await run(recipe, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isLatheError(error)) throw new Error(`expected a LatheError, got ${String(error)}`);
  return error;
}

async function readReport(dir: string): Promise<RunReport> {
  return JSON.parse(await readFile(join(dir, "out", "report.json"), "utf8")) as RunReport;
}

const statuses = (report: RunReport) =>
  Object.fromEntries(report.steps.map((s) => [s.id, s.status]));

/** Complete cache entries, and whatever is left in the cache's temp folder. */
async function cacheContents(dir: string) {
  const cache = join(dir, ".lathe", "cache");
  // Entries are named by their keys; keys/ and .tmp/ hold the key history and temp folders.
  const entries = (await readdir(cache)).filter((name) => /^[0-9a-f]{64}$/.test(name));
  const temp = existsSync(join(cache, ".tmp")) ? await readdir(join(cache, ".tmp")) : [];
  return { cache, entries, temp };
}

async function sha256(file: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(file))
    .digest("hex");
}

describe("a recipe with branches", () => {
  let dir: string;
  let first: RunResult;
  const steps: Steps = {
    rename: { use: "test/rename-nodes", options: { prefix: "renamed/" } },
    triple: { use: "test/scale-output", options: { factor: 3 } },
    gelu: { use: "test/add-contrib-gelu", input: "rename" },
    probe: { use: "test/probe-output", input: "model" },
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(root, "branches-"));
    first = await run(await makeRecipe(dir, steps));
  });

  it("runs every step and writes each candidate", async () => {
    expect(statuses(first.report)).toEqual({
      rename: "ran",
      triple: "ran",
      gelu: "ran",
      probe: "ran",
    });
    expect(Object.keys(first.outputs)).toEqual(["triple", "gelu", "probe"]);
    for (const id of ["triple", "gelu", "probe"]) {
      const folder = join(dir, "out", id);
      expect((await readdir(folder)).sort()).toEqual([FOLDER_MARKER, "bundle.json", "model.onnx"]);
    }
    expect(existsSync(join(dir, "out", "rename"))).toBe(false);
  });

  it("writes candidates that compute what their passes say, on ONNX Runtime", async () => {
    const tripled = await runLm(join(dir, "out", "triple", "model.onnx"));
    expect(
      maxAbsDiff(
        tripled,
        reference.map((x) => 3 * x),
      ),
    ).toBeLessThan(1e-4);
    const gelued = await runLm(join(dir, "out", "gelu", "model.onnx"));
    expect(maxAbsDiff(gelued, reference.map(gelu))).toBeLessThan(1e-4);
    // Guard against a vacuous comparison: the logits are not all zero.
    expect(Math.max(...reference.map(Math.abs))).toBeGreaterThan(0.01);
  });

  it("imports the domain a pass declared, and renames nodes upstream of both branches", async () => {
    const gelu = (await loadBundle(join(dir, "out", "gelu"))).components.get("model")!;
    expect(gelu.opsetImports.get("com.microsoft")).toBe(1);
    const names = gelu.graph.nodes().map((n) => n.name);
    expect(names.filter((n) => !n.startsWith("renamed/"))).toEqual(["logits/Gelu"]);
    const probe = (await loadBundle(join(dir, "out", "probe"))).components.get("model")!;
    expect(probe.graph.nodes().some((n) => n.name.startsWith("renamed/"))).toBe(false);
  });

  it("gives passes ONNX Runtime sessions and the recipe's statistics", async () => {
    const probe = first.report.steps.find((s) => s.id === "probe")!;
    const expected = reference.reduce((a, b) => a + b, 0);
    expect(probe.statistics?.["output-sum"]).toBeCloseTo(expected, 2);
    expect(probe.modified).toBe(false);
    const rename = first.report.steps.find((s) => s.id === "rename")!;
    expect(rename.statistics).toEqual({ "nodes-renamed": llamaNodes });
  });

  it("writes report.json", async () => {
    const report = await readReport(dir);
    expect(report).toEqual(first.report);
    expect(report.schemaVersion).toBe(1);
    expect(report.status).toBe("ok");
    expect(report.recipe).toEqual({
      file: join(dir, "recipe.yaml"),
      sha256: await sha256(join(dir, "recipe.yaml")),
    });
    expect(report.plugins.map((p) => `${p.name}@${p.version}`)).toEqual([
      "@lathe/plugin-zoo@0.1.0",
      "lathe-plugin-test@1.0.0",
    ]);
    expect(report.input?.reference).toBe("zoo:llama?size=tiny");
    expect(report.candidates).toEqual([
      { step: "triple", output: "triple" },
      { step: "gelu", output: "gelu" },
      { step: "probe", output: "probe" },
    ]);
    expect(report.cache).toMatchObject({ hits: 0, misses: 4 });
    for (const step of report.steps) {
      expect(step.cacheKey).toMatch(/^[0-9a-f]{64}$/);
      expect(step.durationMs).toBeGreaterThanOrEqual(0);
    }
    expect(new Set(report.steps.map((s) => s.cacheKey)).size).toBe(4);
  });

  it("reruns as all cache hits with the same outputs", async () => {
    const before = await sha256(join(dir, "out", "gelu", "model.onnx"));
    const events: PipelineEvent[] = [];
    const second = await run(await makeRecipe(dir, steps), { onEvent: (e) => events.push(e) });
    expect(statuses(second.report)).toEqual({
      rename: "cached",
      triple: "cached",
      gelu: "cached",
      probe: "cached",
    });
    expect(events.some((e) => e.type === "step-start")).toBe(false);
    expect(second.report.cache).toMatchObject({ hits: 4, misses: 0 });
    expect(second.report.steps.map((s) => s.cacheKey)).toEqual(
      first.report.steps.map((s) => s.cacheKey),
    );
    // Statistics come back from the cache with the hit.
    expect(second.report.steps[0]!.statistics).toEqual({ "nodes-renamed": llamaNodes });
    expect(await sha256(join(dir, "out", "gelu", "model.onnx"))).toBe(before);
  });

  it("reruns only a step whose option changed, and what reads it", async () => {
    const changed: Steps = {
      ...steps,
      rename: { use: "test/rename-nodes", options: { prefix: "other/" } },
    };
    const third = await run(await makeRecipe(dir, changed));
    expect(statuses(third.report)).toEqual({
      rename: "ran",
      triple: "ran",
      gelu: "ran",
      probe: "cached",
    });
    const leaf: Steps = { ...steps, triple: { use: "test/scale-output", options: { factor: 4 } } };
    const fourth = await run(await makeRecipe(dir, leaf));
    expect(statuses(fourth.report)).toEqual({
      rename: "cached",
      triple: "ran",
      gelu: "cached",
      probe: "cached",
    });
    const quadrupled = await runLm(join(dir, "out", "triple", "model.onnx"));
    expect(
      maxAbsDiff(
        quadrupled,
        reference.map((x) => 4 * x),
      ),
    ).toBeLessThan(1e-4);
  });

  it("--no-cache reruns everything; --only runs one step and what it needs", async () => {
    const fresh = await run(await makeRecipe(dir, steps), { noCache: true });
    expect(statuses(fresh.report)).toEqual({
      rename: "ran",
      triple: "ran",
      gelu: "ran",
      probe: "ran",
    });
    expect(fresh.report.steps.map((s) => s.cacheKey)).toEqual(
      first.report.steps.map((s) => s.cacheKey),
    );
    const only = await run(await makeRecipe(dir, steps), { only: "gelu" });
    expect(only.report.steps.map((s) => [s.id, s.status, s.reason])).toEqual([
      ["rename", "cached", undefined],
      ["triple", "skipped", "not-needed"],
      ["gelu", "cached", undefined],
      ["probe", "skipped", "not-needed"],
    ]);
    expect(only.report.candidates).toEqual([{ step: "gelu", output: "gelu" }]);
  });
});

describe("failures", () => {
  it("a pass that runs past its step's timeout fails the step, naming the plugin; nothing is stored", async () => {
    const dir = await mkdtemp(join(root, "timeout-"));
    const recipe = await makeRecipe(dir, {
      first: { use: "test/rename-nodes", options: { prefix: "r/" } },
      slow: { use: "test/slow", options: { units: 1000, delayMs: 20 }, timeout: 0.3 },
    });
    const started = performance.now();
    const error = await runError(recipe);
    expect(performance.now() - started).toBeLessThan(15_000); // 1000 × 20 ms was not waited for
    expect(error.code).toBe("PASS_FAILED");
    expect(error.message).toBe(
      'step "slow" (pass test/slow of lathe-plugin-test@1.0.0) failed: step "slow" ran past its timeout of 0.3 s',
    );
    expect((error.cause as { code: string }).code).toBe("STEP_TIMEOUT");
    const { entries, temp } = await cacheContents(dir);
    expect(entries).toHaveLength(1); // only the first step's output
    expect(temp).toEqual([]);
    expect(statuses(await readReport(dir))).toEqual({ first: "ran", slow: "failed" });
  });

  it("wraps a pass's error with step, pass and recipe location, stores nothing, writes a reproducer", async () => {
    const dir = await mkdtemp(join(root, "fail-"));
    const recipe = await makeRecipe(dir, {
      first: { use: "test/rename-nodes", options: { prefix: "r/" } },
      broken: { use: "test/fail", options: { message: "boom at layer 3" } },
    });
    const error = await runError(recipe);
    expect(error.code).toBe("PASS_FAILED");
    expect(error.message).toBe(
      'step "broken" (pass test/fail of lathe-plugin-test@1.0.0) failed: boom at layer 3',
    );
    expect(error.where).toBe(`${recipe.file} (passes.broken)`);
    expect((error.cause as Error).message).toBe("boom at layer 3");
    expect(error.hint).toContain(join(dir, "out", "failed-broken"));

    const { cache, entries, temp } = await cacheContents(dir);
    expect(entries).toHaveLength(1);
    expect(temp).toEqual([]);
    const report = await readReport(dir);
    expect(report.status).toBe("failed");
    expect(statuses(report)).toEqual({ first: "ran", broken: "failed" });
    expect(report.steps[0]!.cacheKey).toBe(entries[0]);
    expect(report.error).toEqual({
      code: "PASS_FAILED",
      message: error.message,
      step: "broken",
      reproducer: join(dir, "out", "failed-broken"),
    });

    const reproducer = join(dir, "out", "failed-broken");
    expect((await readdir(reproducer)).sort()).toEqual([
      FOLDER_MARKER,
      "error.txt",
      "input.json",
      "recipe.yaml",
    ]);
    const slice = await readFile(join(reproducer, "recipe.yaml"), "utf8");
    expect(slice).toContain(`model: ${join(cache, entries[0]!)}`);
    expect(slice).toContain("use: test/fail");
    expect(slice).toContain("message: boom at layer 3");
    expect(slice).toContain(TEST_PLUGIN);
    expect(JSON.parse(await readFile(join(reproducer, "input.json"), "utf8"))).toEqual({
      reference: join(cache, entries[0]!),
      digest: entries[0],
      cached: true,
    });
    expect(await readFile(join(reproducer, "error.txt"), "utf8")).toContain("boom at layer 3");
  });

  it("tells a plugin author about a domain the pass did not declare", async () => {
    const dir = await mkdtemp(join(root, "domain-"));
    const error = await runError(
      await makeRecipe(dir, { bad: { use: "test/emit-undeclared-domain" } }),
    );
    expect(error.message).toBe(
      'Plugin author: lathe-plugin-test: pass test/emit-undeclared-domain emitted domain "com.example.undeclared" it did not declare',
    );
    expect((await cacheContents(dir)).entries).toEqual([]);
    expect(existsSync(join(dir, "out", "failed-bad", "recipe.yaml"))).toBe(true);
  });

  it("refuses a pass whose output is invalid: the step fails naming plugin, pass and finding", async () => {
    const dir = await mkdtemp(join(root, "invalid-"));
    const error = await runError(await makeRecipe(dir, { bad: { use: "test/forget-attribute" } }));
    expect(error.code).toBe("PASS_OUTPUT_INVALID");
    expect(error.message).toMatch(
      /^pass test\/forget-attribute of lathe-plugin-test@1\.0\.0 wrote an invalid model \(component "model"\): main › node ".*\/Cast" \(Cast\): required attribute "to" \(INT\) of Cast-\d+ is missing$/,
    );
    expect(error.where).toMatch(/recipe\.yaml \(passes\.bad\)$/);
    expect(error.hint).toContain('set "to"');
    expect((await cacheContents(dir)).entries).toEqual([]);
    expect(statuses(await readReport(dir))).toEqual({ bad: "failed" });
    expect(existsSync(join(dir, "out", "failed-bad", "recipe.yaml"))).toBe(true);
    expect(existsSync(join(dir, "out", "selected"))).toBe(false);
  });

  it("verify: check refuses it too; verify: none on the step trusts the pass", async () => {
    const checked = await mkdtemp(join(root, "verify-check-"));
    const error = await runError(
      await makeRecipe(checked, { bad: { use: "test/forget-attribute", verify: "check" } }),
    );
    expect(error.code).toBe("PASS_OUTPUT_INVALID");
    const trusted = await mkdtemp(join(root, "verify-none-"));
    await run(
      await makeRecipe(trusted, { bad: { use: "test/forget-attribute" } }, { verify: "none" }),
    );
    expect(statuses(await readReport(trusted))).toEqual({ bad: "ran" });
    expect((await cacheContents(trusted)).entries).toHaveLength(1);
  });

  it("tells a plugin author about a result that is not a pass result", async () => {
    const dir = await mkdtemp(join(root, "result-"));
    const error = await runError(await makeRecipe(dir, { bad: { use: "test/bad-result" } }));
    expect(error.code).toBe("PLUGIN_CONTRACT");
    expect(error.message).toMatch(
      /^Plugin author: lathe-plugin-test: pass test\/bad-result returned something other than/,
    );
  });

  it("reports a missing model source before any step runs", async () => {
    const dir = await mkdtemp(join(root, "source-"));
    const recipe = await makeRecipe(
      dir,
      { a: { use: "test/rename-nodes" } },
      { model: "hub:gpt2" },
    );
    const error = await runError(recipe);
    expect(error.code).toBe("MODEL_SOURCE_UNKNOWN");
    expect(error.hint).toContain("zoo:");
    expect(statuses(await readReport(dir))).toEqual({ a: "skipped" });
  });
});

describe("interrupting a run", () => {
  it("stops inside a pass, keeps only complete entries, and resumes from them", async () => {
    const dir = await mkdtemp(join(root, "abort-"));
    const steps: Steps = {
      rename: { use: "test/rename-nodes" },
      slow: { use: "test/slow", options: { units: 40, delayMs: 10 } },
      after: { use: "test/scale-output", options: { factor: 2 } },
    };
    const controller = new AbortController();
    const progress: number[] = [];
    const error = await runError(await makeRecipe(dir, steps), {
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type !== "step-progress") return;
        progress.push(event.done);
        if (event.done === 5) controller.abort();
      },
    });
    expect(error.code).toBe("INTERRUPTED");
    expect(error.message).toBe('the run was interrupted during step "slow"');
    // The pass saw the abort and stopped midway, well before its 40 units.
    expect(Math.max(...progress)).toBeLessThan(40);
    const report = await readReport(dir);
    expect(report.status).toBe("interrupted");
    expect(report.steps.map((s) => [s.id, s.status, s.reason])).toEqual([
      ["rename", "ran", undefined],
      ["slow", "interrupted", undefined],
      ["after", "skipped", "not-reached"],
    ]);
    const { cache, entries, temp } = await cacheContents(dir);
    expect(entries).toEqual([report.steps[0]!.cacheKey]);
    expect(temp).toEqual([]);
    expect(
      (await loadBundle(join(cache, entries[0]!))).components.get("model")!.graph.nodeCount,
    ).toBe(llamaNodes);

    const resumed = await run(await makeRecipe(dir, steps));
    expect(statuses(resumed.report)).toEqual({ rename: "cached", slow: "ran", after: "ran" });
    const bundle = await loadBundle(resumed.outputs.after!);
    expect(bundle.metadata["slow/units"]).toBe(40);
  });

  it("does not start when already aborted", async () => {
    const dir = await mkdtemp(join(root, "aborted-"));
    const error = await runError(await makeRecipe(dir, { a: { use: "test/rename-nodes" } }), {
      signal: AbortSignal.abort(),
    });
    expect(error.code).toBe("INTERRUPTED");
    expect((await cacheContents(dir).catch(() => ({ entries: [] }))).entries).toEqual([]);
  });
});

describe("inputs", () => {
  it("reads a model file relative to the recipe and reruns when its bytes change", async () => {
    const dir = await mkdtemp(join(root, "file-"));
    const { saveModel } = await import("@lathe/core");
    const build = (seed: number) =>
      buildZooSource(zooModels, `zoo:llama?size=tiny&seed=${seed}`).bundle.components.get("model")!;
    await saveModel(build(1), join(dir, "model.onnx"));
    const steps: Steps = { rename: { use: "test/rename-nodes" } };
    const recipe = await makeRecipe(dir, steps, { model: "./model.onnx" });
    const first = await run(recipe);
    expect(first.report.input?.reference).toBe(join(dir, "model.onnx"));
    expect(statuses((await run(recipe)).report)).toEqual({ rename: "cached" });
    await saveModel(build(2), join(dir, "model.onnx"));
    const third = await run(recipe);
    expect(statuses(third.report)).toEqual({ rename: "ran" });
    expect(third.report.input?.digest).not.toBe(first.report.input?.digest);
    const model = await loadModel(join(third.outputs.rename!, "model.onnx"));
    expect(model.graph.nodeCount).toBe(llamaNodes);
  });

  it("reads a bundle folder, and a bundle: of named components", async () => {
    const dir = await mkdtemp(join(root, "bundle-"));
    const steps: Steps = { rename: { use: "test/rename-nodes", options: { prefix: "x/" } } };
    const first = await run(await makeRecipe(dir, steps));
    // A bundle folder (here: the first run's output) as `model:`.
    const again = await run(
      await makeRecipe(
        dir,
        { twice: { use: "test/rename-nodes", options: { prefix: "y/" } } },
        {
          model: "./out/rename",
          output: { dir: "out2", cache: ".lathe/cache", externalDataThreshold: 0 },
        },
      ),
    );
    const twice = await loadModel(join(again.outputs.twice!, "model.onnx"));
    expect(twice.graph.first!.name.startsWith("y/x/")).toBe(true);
    expect(again.report.input?.digest).not.toBe(first.report.input?.digest);

    const { saveModel } = await import("@lathe/core");
    const model = buildZooSource(zooModels, "zoo:llama?size=tiny").bundle.components.get("model")!;
    await saveModel(model, join(dir, "decoder.onnx"));
    const recipe = await makeRecipe(dir, steps, {
      model: undefined,
      bundle: { encoder: "zoo:llama?size=tiny", decoder: "./decoder.onnx" },
      output: { dir: "out3", cache: ".lathe/cache", externalDataThreshold: 0 },
    });
    const result = await run(recipe);
    expect(result.report.input?.reference).toBe(
      "bundle(encoder=zoo:llama?size=tiny, decoder=./decoder.onnx)",
    );
    const bundle = await loadBundle(result.outputs.rename!);
    expect([...bundle.components.keys()]).toEqual(["encoder", "decoder"]);
    for (const component of bundle.components.values()) {
      expect(component.graph.nodes().every((n) => n.name.startsWith("x/"))).toBe(true);
    }
    expect(result.report.steps[0]!.statistics).toEqual({ "nodes-renamed": 2 * llamaNodes });
  });

  it("writes the input itself as the baseline when no step is enabled", async () => {
    const dir = await mkdtemp(join(root, "baseline-"));
    const result = await run(
      await makeRecipe(dir, { off: { use: "test/scale-output", enabled: false } }),
    );
    expect(result.report.candidates).toEqual([{ step: "model", output: "model" }]);
    expect(result.report.steps).toEqual([
      {
        id: "off",
        pass: "test/scale-output",
        plugin: "lathe-plugin-test@1.0.0",
        input: "model",
        status: "skipped",
        reason: "disabled",
      },
    ]);
    const logits = await runLm(join(dir, "out", "model", "model.onnx"));
    expect(maxAbsDiff(logits, reference)).toBe(0);
  });

  it("hands each branch its own copy of a shared input", async () => {
    const dir = await mkdtemp(join(root, "copies-"));
    const result = await run(
      await makeRecipe(dir, {
        a: { use: "test/rename-nodes", options: { prefix: "a/" } },
        b: { use: "test/rename-nodes", input: "model", options: { prefix: "b/" } },
      }),
    );
    const first = (await loadModel(join(result.outputs.b!, "model.onnx"))).graph.first!;
    expect(first.name.startsWith("b/")).toBe(true);
    expect(first.name.startsWith("b/a/")).toBe(false);
  });
});
