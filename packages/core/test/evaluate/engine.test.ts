import { existsSync } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  builtinMetricsPlugin,
  DataType,
  definePass,
  definePlugin,
  loadPlugins,
  type PipelineEvent,
  type PluginRegistry,
  planRecipe,
  type Recipe,
  type RunReport,
  runPipeline,
  Tensor,
} from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import zooPlugin from "../../../plugins/zoo/src/index.js";
import { makeRecipe, TEST_PLUGIN } from "../pipeline/recipe-fixture.js";

/** A lossy pass for the test: noise of `scale` × RMS added to one weight of every component. */
const noisePlugin = definePlugin({
  meta: { name: "lathe-plugin-noise", version: "1.0.0", apiVersion: 1 },
  passes: [
    definePass<{ weight: string; scale: number }>({
      id: "noise/add",
      summary: "Add seeded noise to one weight.",
      options: {
        type: "object",
        properties: {
          weight: { type: "string", description: "The initializer." },
          scale: { type: "number", description: "Noise size relative to the weight's RMS." },
        },
      },
      run(bundle, ctx) {
        for (const model of bundle.components.values()) {
          const value = model.graph.initializers.get(ctx.options.weight)!;
          const tensor = value.constValue as Tensor;
          const data = Float32Array.from(tensor.toArray() as Float32Array);
          const rms = Math.sqrt(data.reduce((s, x) => s + x * x, 0) / data.length);
          for (let i = 0; i < data.length; i++)
            data[i]! += ctx.random.normal() * ctx.options.scale * rms;
          value.constValue = Tensor.fromArray(DataType.FLOAT, tensor.dims, data, {
            name: tensor.name,
          });
        }
        return { bundle, modified: true };
      },
    }),
  ],
});

const tempDir = tempDirs(afterAll);

const root = tempDir("lathe-eval-engine-");
let registry: PluginRegistry;
beforeAll(async () => {
  registry = await loadPlugins([TEST_PLUGIN], root, {
    builtins: [zooPlugin, builtinMetricsPlugin, noisePlugin],
  });
});

const SHAPE = [1, 8];
const WEIGHT = "transformer.h.0.mlp.c_fc.weight";

async function recipe(dir: string, extra: Partial<Recipe> = {}): Promise<Recipe> {
  return makeRecipe(
    dir,
    {
      light: { use: "noise/add", options: { weight: WEIGHT, scale: 0.02 } },
      heavy: {
        use: "noise/add",
        input: "model",
        options: { weight: "transformer.wte.weight", scale: 4 },
      },
    },
    {
      model: "zoo:gpt2?size=tiny",
      plugins: [TEST_PLUGIN],
      target: {
        providers: ["cpu"],
        fallback: false,
        threads: 1,
        shapes: { input_ids: SHAPE, attention_mask: SHAPE, position_ids: SHAPE },
      },
      evaluate: {
        metrics: {
          "core/latency": { warmup: 1, runs: 3, minTimeMs: 0, maxRuns: 3 },
          "core/size": {},
          "core/fidelity": { samples: 2 },
        },
        constraints: ["fidelity.top1 >= 0.9", "size.bytes <= 1.01 * reference"],
      },
      select: { objective: "latency.p50", direction: "minimize" },
      ...extra,
    },
  );
}

async function run(r: Recipe, events: PipelineEvent[] = []) {
  return runPipeline(planRecipe(r, registry), { onEvent: (e) => events.push(e) });
}

describe("an engine run with evaluation", () => {
  it("measures every branch and the reference, judges, selects, and writes selected/", async () => {
    const dir = await mkdtemp(join(root, "objective-"));
    const events: PipelineEvent[] = [];
    const result = await run(await recipe(dir), events);
    const report = JSON.parse(await readFile(result.reportPath, "utf8")) as RunReport;
    const evaluation = report.evaluation!;
    expect(evaluation.metrics.map((m) => [m.name, m.id, m.deterministic])).toEqual([
      ["latency", "core/latency", false],
      ["size", "core/size", true],
      ["fidelity", "core/fidelity", true],
    ]);
    expect(evaluation.reference.values.fidelity).toMatchObject({ relL2: 0, top1: 1, kl: 0 });
    expect(evaluation.reference.values.latency!.p50).toBeGreaterThan(0);

    const [light, heavy] = evaluation.candidates;
    expect([light!.step, heavy!.step]).toEqual(["light", "heavy"]);
    for (const c of [light!, heavy!]) {
      expect(c.values.latency!.p50).toBeGreaterThan(0);
      expect(c.values.size!.bytes).toBeGreaterThan(0);
      expect(c.values.fidelity!.relL2).toBeGreaterThan(0);
    }
    // Light noise keeps the argmax almost everywhere; noise 4× the embedding's RMS does not.
    expect(light!.values.fidelity!.top1).toBeGreaterThanOrEqual(0.9);
    expect(heavy!.values.fidelity!.top1).toBeLessThan(0.9);
    expect(light!.values.fidelity!.kl).toBeLessThan(heavy!.values.fidelity!.kl!);
    expect(light!.accepted).toBe(true);
    expect(heavy!.accepted).toBe(false);
    expect(heavy!.checks.find((c) => !c.passed)!.reason).toMatch(
      /^fidelity\.top1 = .* not >= 0\.9$/,
    );
    expect(light!.checks.map((c) => c.passed)).toEqual([true, true]);

    expect(evaluation.selection).toMatchObject({
      kind: "objective",
      selected: "light",
      output: "selected",
    });
    expect(result.selected).toBe(join(dir, "out", "selected"));
    expect(existsSync(join(dir, "out", "selected", "model.onnx"))).toBe(true);
    expect(events.filter((e) => e.type === "metric-end")).toHaveLength(9);
    expect(events.at(-1)).toMatchObject({ type: "selected", steps: ["light"] });

    // Again: steps and deterministic metrics come from the cache, latency is measured anew.
    const again = await run(await recipe(dir));
    const second = again.report.evaluation!;
    expect(second.candidates[0]!.metrics.size!.cached).toBe(true);
    expect(second.candidates[0]!.metrics.fidelity!.cached).toBe(true);
    expect(second.candidates[0]!.metrics.latency!.cached).toBe(false);
    expect(second.candidates[0]!.values.fidelity).toEqual(light!.values.fidelity);
  });

  it("says so when no candidate is accepted, and removes a stale selected/", async () => {
    const dir = await mkdtemp(join(root, "none-"));
    await run(await recipe(dir));
    expect(existsSync(join(dir, "out", "selected"))).toBe(true);
    const strict = await recipe(dir);
    const result = await run({
      ...strict,
      evaluate: { ...strict.evaluate, constraints: ["fidelity.relL2 <= 0"] },
    });
    const evaluation = result.report.evaluation!;
    expect(evaluation.candidates.map((c) => c.accepted)).toEqual([false, false]);
    expect(evaluation.selection).toMatchObject({
      kind: "objective",
      reason: "no candidate met the constraints",
    });
    expect(existsSync(join(dir, "out", "selected"))).toBe(false);
    expect(result.selected).toBeUndefined();
  });

  it("keeps the Pareto front of two fidelity values", async () => {
    const dir = await mkdtemp(join(root, "pareto-"));
    const base = await recipe(dir);
    const result = await run({
      ...base,
      evaluate: { ...base.evaluate, constraints: [] },
      select: { direction: "minimize", pareto: ["fidelity.kl", "fidelity.top1"] },
    });
    // light beats heavy on both (lower kl, higher top1).
    expect(result.report.evaluation!.selection).toMatchObject({ kind: "pareto", front: ["light"] });
    expect(existsSync(join(dir, "out", "selected"))).toBe(false);
  });

  it("stops with the runtime's error when the reference cannot be measured", async () => {
    const dir = await mkdtemp(join(root, "unbound-"));
    const base = await recipe(dir);
    const error = await run({ ...base, target: { ...base.target, shapes: {} } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "SHAPE_UNBOUND" });
    const report = JSON.parse(await readFile(join(dir, "out", "report.json"), "utf8")) as RunReport;
    expect(report.status).toBe("failed");
    expect(report.error?.code).toBe("SHAPE_UNBOUND");
    expect(report.candidates.map((c) => c.step)).toEqual(["light", "heavy"]);
  });
});
