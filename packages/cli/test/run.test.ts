import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  loadPlugins,
  type PipelineEvent,
  planRecipe,
  type Recipe,
  type RunReport,
  readRecipe,
  runPipeline,
  validateRecipe,
} from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { builtinPlugins } from "../src/builtin-plugins.js";
import { createProgressView } from "../src/format/run-progress.js";
import { isBuilt, lathe, latheUntil, SKIP_REASON, TEST_PLUGIN, yaml } from "./cli-helpers.js";

const built = isBuilt("run");
let root: string;
const tempDir = tempDirs(afterAll);

beforeAll(async () => {
  root = tempDir("lathe-cli-run-");
});

/** A folder with `recipe.yaml` holding these steps (as YAML lines under `passes:`). */
async function recipeDir(name: string, ...steps: string[]): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir);
  await writeFile(
    join(dir, "recipe.yaml"),
    yaml("model: zoo:llama?size=tiny", `plugins: [${TEST_PLUGIN}]`, "passes:", ...steps),
  );
  return dir;
}

async function report(dir: string): Promise<RunReport> {
  return JSON.parse(await readFile(join(dir, "out", "report.json"), "utf8")) as RunReport;
}

const statuses = (r: RunReport) => Object.fromEntries(r.steps.map((s) => [s.id, s.status]));

/** sha256 of every file of every candidate folder, by relative path. */
async function outputDigests(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const step of (await readdir(join(dir, "out"))).filter((n) => n !== "report.json")) {
    for (const file of await readdir(join(dir, "out", step))) {
      const bytes = await readFile(join(dir, "out", step, file));
      out[`${step}/${file}`] = createHash("sha256").update(bytes).digest("hex");
    }
  }
  return out;
}

const BRANCHES = [
  "  rename: { use: test/rename-nodes }",
  "  triple: { use: test/scale-output, options: { factor: 3 } }",
  "  gelu: { use: test/add-contrib-gelu, input: rename }",
];

describe.skipIf(!built)(`lathe run${built ? "" : ` (skipped: ${SKIP_REASON})`}`, () => {
  it("runs a recipe with a branch, finds every step cached, runs --only a step", async () => {
    const dir = await recipeDir("branches", ...BRANCHES);
    const first = lathe(["run", "recipe.yaml"], dir);
    expect(first.status).toBe(0);
    expect(first.stdout).toBe(
      yaml(
        "candidates: out/triple, out/gelu",
        "report: out/report.json",
        "steps: 3 ran, 0 cached, 0 skipped",
      ),
    );
    // Not a terminal: progress comes as plain lines on stderr.
    expect(first.stderr.split("\n")).toContain("rename: running test/rename-nodes");
    expect(first.stderr).toMatch(/^rename: done \d+ ms \(nodes-renamed: \d+\)$/m);
    expect(statuses(await report(dir))).toEqual({ rename: "ran", triple: "ran", gelu: "ran" });

    const second = lathe(["run", "recipe.yaml", "--json"], dir);
    expect(second.status).toBe(0);
    const printed = JSON.parse(second.stdout) as RunReport;
    expect(statuses(printed)).toEqual({ rename: "cached", triple: "cached", gelu: "cached" });
    expect(printed).toEqual(await report(dir));

    const only = lathe(["run", "recipe.yaml", "--only", "gelu", "--no-cache"], dir);
    expect(only.status).toBe(0);
    expect(only.stdout.split("\n")[0]).toBe("candidates: out/gelu");
    expect(statuses(await report(dir))).toEqual({ rename: "ran", triple: "skipped", gelu: "ran" });
    const bad = lathe(["run", "recipe.yaml", "--only", "gleu"], dir);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--only gleu: the recipe has no such step");
  });

  it("--explain: the attention rewrite says which rule fused each Softmax, even when the step was cached", async () => {
    const dir = join(root, "explain");
    await mkdir(dir);
    await writeFile(
      join(dir, "recipe.yaml"),
      yaml("model: zoo:gpt2?size=tiny", "passes:", "  attention: { use: flash-attention/rewrite }"),
    );
    const plain = lathe(["run", "recipe.yaml"], dir);
    expect(plain.status).toBe(0);
    expect(plain.stderr).not.toMatch(/fused by/);
    const explained = lathe(["run", "recipe.yaml", "--explain"], dir);
    expect(explained.status).toBe(0);
    expect(explained.stdout).toMatch(/steps: 1 ran, 0 cached/);
    const fused = explained.stderr.match(
      /^attention: model: Softmax ".*": fused by causal-buffer$/gm,
    );
    expect(fused, explained.stderr).toHaveLength(2); // gpt2 tiny's two layers
  });

  it("a failing pass: exit 1, the step and pass named, a reproducer, no stack trace", async () => {
    const dir = await recipeDir(
      "fail",
      "  rename: { use: test/rename-nodes }",
      "  broken: { use: test/fail, options: { message: boom } }",
    );
    const { status, stdout, stderr } = lathe(["run", "recipe.yaml"], dir);
    expect(status).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toContain(
      `error: ${join(dir, "recipe.yaml")}:5:3 passes.broken: step "broken" (pass test/fail of lathe-plugin-test@1.0.0) failed: boom\n`,
    );
    expect(stderr).toContain(
      `hint: a reproducer (input reference and recipe slice) is in ${join(dir, "out", "failed-broken")}`,
    );
    expect(stderr).not.toMatch(/^\s+at /m);
    expect(existsSync(join(dir, "out", "failed-broken", "recipe.yaml"))).toBe(true);
    expect((await report(dir)).status).toBe("failed");
  });

  it("Ctrl-C: exit 130, the report says interrupted, the cache keeps finished steps", async () => {
    const dir = await recipeDir(
      "sigint",
      "  rename: { use: test/rename-nodes }",
      "  slow: { use: test/slow, options: { units: 200, delayMs: 20 } }",
    );
    const ended = await latheUntil(["run", "recipe.yaml"], dir, (stderr) =>
      /^slow: [1-9]\d*\/200/m.test(stderr) ? "SIGINT" : undefined,
    );
    expect(ended.status).toBe(130);
    expect(ended.stderr).toContain('error: the run was interrupted during step "slow"');
    const r = await report(dir);
    expect(r.status).toBe("interrupted");
    expect(statuses(r)).toEqual({ rename: "ran", slow: "interrupted" });
    expect(await readdir(join(dir, ".lathe", "cache"))).toEqual(
      expect.arrayContaining([r.steps[0]!.cacheKey]),
    );
  });

  it("resumes after the process is killed, and ends as an uninterrupted run does", async () => {
    const steps = [
      "  rename: { use: test/rename-nodes }",
      "  gelu: { use: test/add-contrib-gelu }",
      "  slow: { use: test/slow, input: rename, options: { units: 30, delayMs: 20 } }",
      "  triple: { use: test/scale-output, options: { factor: 3 } }",
    ];
    const dir = await recipeDir("killed", ...steps);
    const killed = await latheUntil(["run", "recipe.yaml"], dir, (stderr) =>
      /^slow: [1-9]\d*\/30/m.test(stderr) ? "SIGKILL" : undefined,
    );
    expect(killed.signal).toBe("SIGKILL");
    const cache = join(dir, ".lathe", "cache");
    // Killed mid-pass: the finished steps are complete entries; the running one left only temp files.
    expect((await readdir(cache)).filter((n) => /^[0-9a-f]{64}$/.test(n))).toHaveLength(2);
    expect(await readdir(join(cache, ".tmp"))).not.toEqual([]);

    const resumed = lathe(["run", "recipe.yaml"], dir);
    expect(resumed.status).toBe(0);
    expect(statuses(await report(dir))).toEqual({
      rename: "cached",
      gelu: "cached",
      slow: "ran",
      triple: "ran",
    });
    expect(await readdir(join(cache, ".tmp"))).toEqual([]);

    // The same recipe run without interruption (in this process, from the sources).
    const clean = await recipeDir("uninterrupted", ...steps);
    const doc = await readRecipe(join(clean, "recipe.yaml"));
    const registry = await loadPlugins(doc.plugins, clean, { builtins: builtinPlugins });
    await runPipeline(planRecipe(validateRecipe(doc, registry), registry));
    const expected = await outputDigests(clean);
    expect(Object.keys(expected)).toEqual(
      expect.arrayContaining(["gelu/model.onnx", "triple/model.onnx"]),
    );
    expect(await outputDigests(dir)).toEqual(expected);
  });
});

describe("the progress view", () => {
  async function graph(extra: Partial<Recipe> = {}) {
    const dir = await mkdtemp(join(root, "view-"));
    const registry = await loadPlugins([TEST_PLUGIN], dir);
    await writeFile(join(dir, "recipe.yaml"), "# view\n");
    const recipe = {
      file: join(dir, "recipe.yaml"),
      model: "zoo:llama?size=tiny",
      plugins: [],
      target: { providers: ["cpu"], fallback: false, threads: 0, shapes: {} },
      data: {},
      passes: {
        a: { use: "test/rename-nodes", options: {}, enabled: true },
        b: { use: "test/slow", options: {}, enabled: true },
        c: { use: "test/fail", options: {}, enabled: true, input: "a" },
      },
      evaluate: { metrics: {}, constraints: [] },
      select: { direction: "minimize" },
      output: { dir: "out", cache: ".lathe/cache", externalDataThreshold: 0 },
      seed: 0,
      verify: "load",
      ...extra,
    } satisfies Recipe;
    return planRecipe(recipe, registry);
  }

  const events: PipelineEvent[] = [
    { type: "step-start", step: "a" },
    { type: "step-log", step: "a", level: "info", message: "renamed 3 nodes" },
    { type: "step-log", step: "a", level: "debug", message: "not shown" },
    {
      type: "step-end",
      step: "a",
      status: "ran",
      durationMs: 12,
      statistics: { "nodes-renamed": 3 },
    },
    { type: "step-start", step: "b" },
    ...Array.from(
      { length: 20 },
      (_, i): PipelineEvent => ({ type: "step-progress", step: "b", done: i + 1, total: 20 }),
    ),
    { type: "step-end", step: "b", status: "cached", durationMs: 1500 },
    { type: "step-end", step: "c", status: "skipped", reason: "not-needed", durationMs: 0 },
  ];

  /** A stream that keeps what is written. */
  function sink() {
    const chunks: string[] = [];
    return {
      stream: {
        write: (text: string) => chunks.push(text) > 0,
      } as unknown as NodeJS.WritableStream,
      text: () => chunks.join(""),
    };
  }

  it("starts with the recipe's name and description, when it has them", async () => {
    const { stream, text } = sink();
    createProgressView(await graph({ name: "gpt2-int8", description: "Smaller GPT-2." }), stream, {
      live: true,
      now: () => 0,
    }).close();
    expect(text().split("\n")[0]).toBe("gpt2-int8: Smaller GPT-2.");
    const plain = sink();
    createProgressView(await graph(), plain.stream, { live: false, now: () => 0 }).close();
    expect(plain.text()).toBe("");
  });

  it("writes plain lines: starts, ends, logs, and progress in tenths", async () => {
    const { stream, text } = sink();
    const view = createProgressView(await graph(), stream, { live: false, now: () => 0 });
    for (const e of events) view.onEvent(e);
    view.close();
    const lines = text().trimEnd().split("\n");
    expect(lines.slice(0, 4)).toEqual([
      "a: running test/rename-nodes",
      "a: renamed 3 nodes",
      "a: done 12 ms (nodes-renamed: 3)",
      "b: running test/slow",
    ]);
    // 0%, 10%, …, 100%: one line per tenth reached, not one per unit.
    expect(lines.filter((l) => l.startsWith("b: ") && l.includes("/20"))).toHaveLength(11);
    expect(lines).toContain("b: 10/20 (50%)");
    expect(lines.slice(-2)).toEqual(["b: cached 1.5 s", "c: skipped (not-needed)"]);
  });

  it("redraws a table in place on a terminal, with the running step's clock", async () => {
    const { stream, text } = sink();
    let clock = 0;
    const view = createProgressView(await graph(), stream, { live: true, now: () => clock });
    view.onEvent({ type: "step-start", step: "a" });
    clock = 250;
    view.onEvent({ type: "step-progress", step: "a", done: 1, total: 4, label: "layer 1" });
    const frames = text().split("\x1b[3F\x1b[J");
    expect(frames.at(-1)).toBe(
      yaml(
        "▸  a  test/rename-nodes  running  250 ms  1/4 (25%) layer 1",
        "·  b  test/slow          pending",
        "·  c  test/fail          pending",
      ),
    );
    for (const e of events.slice(1)) view.onEvent(e);
    view.close();
    expect(text().split("\x1b[3F\x1b[J").at(-1)).toBe(
      yaml(
        "✓  a  test/rename-nodes  done                  12 ms  (nodes-renamed: 3)",
        "=  b  test/slow          cached                1.5 s",
        "-  c  test/fail          skipped (not-needed)",
      ),
    );
  });
});
