import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  createPassRandom,
  definePass,
  definePlugin,
  isLatheError,
  type PassContext,
  PLUGIN_API_VERSION,
  PluginRegistry,
  planRecipe,
  runPipeline,
} from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import zooPlugin from "../../../plugins/zoo/src/index.js";
import { makeRecipe } from "./recipe-fixture.js";

let dir: string;

const tempDir = tempDirs(afterAll);
/** What the last `inline/look` pass saw, for the assertions. */
let seen: { context: PassContext<object>; scratchExisted: boolean } | undefined;

const emptyOptions = { type: "object", properties: {} } as const;
const inline = definePlugin({
  meta: { name: "inline-plugin", version: "0.0.1", apiVersion: PLUGIN_API_VERSION },
  passes: [
    definePass({
      id: "inline/look",
      summary: "Record the context, change nothing.",
      options: {
        type: "object",
        properties: { nested: { type: "object", description: "Anything." } },
      },
      async run(bundle, context) {
        await writeFile(join(context.scratchDir, "temp.bin"), "x");
        seen = { context, scratchExisted: existsSync(join(context.scratchDir, "temp.bin")) };
        return { bundle, modified: false };
      },
    }),
    definePass<{ list: number[] }>({
      id: "inline/mutate-options",
      summary: "Try to change its options.",
      options: { type: "object", properties: { list: { type: "array", description: "A list." } } },
      run(bundle, context) {
        context.options.list.push(4);
        return { bundle, modified: false };
      },
    }),
    definePass<{ from?: string }>({
      id: "inline/read-data",
      summary: "Ask for calibration data: the set its option names, else one it does not name.",
      options: { type: "object", properties: { from: { type: "string", description: "A set." } } },
      run(bundle, context) {
        context.data(context.options.from ?? "calibration");
        return { bundle, modified: false };
      },
    }),
    definePass({
      id: "inline/needs-unet",
      summary: "Requires a unet component.",
      options: emptyOptions,
      requires: { components: ["unet"] },
      run: (bundle) => ({ bundle, modified: false }),
    }),
  ],
});
const registry = new PluginRegistry([zooPlugin, inline]);

beforeAll(async () => {
  dir = tempDir("lathe-context-");
});

async function runSteps(steps: Parameters<typeof makeRecipe>[1], extra = {}) {
  const recipe = await makeRecipe(dir, steps, { plugins: [], ...extra });
  return runPipeline(planRecipe(recipe, registry));
}

async function failure(steps: Parameters<typeof makeRecipe>[1], extra = {}) {
  const error = await runSteps(steps, extra).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isLatheError(error)) throw new Error(`expected a LatheError, got ${String(error)}`);
  return error;
}

describe("the pass context", () => {
  it("gives frozen options, ids, a scratch folder removed after, and paths from the recipe", async () => {
    await runSteps({ look: { use: "inline/look", options: { nested: { a: [1] } } } });
    const { context, scratchExisted } = seen!;
    expect(context.stepId).toBe("look");
    expect(context.passId).toBe("inline/look");
    expect(context.options).toEqual({ nested: { a: [1] } });
    expect(Object.isFrozen(context.options)).toBe(true);
    const options = context.options as { nested: { a: number[] } };
    expect(Object.isFrozen(options.nested.a)).toBe(true);
    expect(scratchExisted).toBe(true);
    expect(existsSync(context.scratchDir)).toBe(false);
    expect(context.resolve("data/calib.npz")).toBe(join(dir, "data", "calib.npz"));
    expect(context.signal.aborted).toBe(false);
    expect(context.target).toEqual({ providers: ["cpu"], shapes: {} });
    expect(context.explain).toBe(false);
  });

  it("passes the recipe's providers as ctx.target, and --explain as ctx.explain, rerunning cached steps", async () => {
    const steps = { look: { use: "inline/look", options: {} } };
    const target = { providers: ["cuda", "cpu"], fallback: true, threads: 0, shapes: {} };
    const recipe = await makeRecipe(dir, steps, { plugins: [], target } as never);
    await runPipeline(planRecipe(recipe, registry));
    expect(seen!.context.target).toEqual({ providers: ["cuda", "cpu"], shapes: {} });
    seen = undefined;
    const cached = await runPipeline(planRecipe(recipe, registry));
    expect(cached.report.steps[0]?.status).toBe("cached");
    expect(seen).toBeUndefined();
    const explained = await runPipeline(planRecipe(recipe, registry), { explain: true });
    expect(explained.report.steps[0]?.status).toBe("ran");
    expect(seen!.context.explain).toBe(true);
  });

  it("seeds the random source from the recipe seed, the pass and its input", async () => {
    const result = await runSteps({ look: { use: "inline/look" } }, { seed: 7 });
    const drawn = [seen!.context.random.uniform(), seen!.context.random.uniform()];
    const input = result.report.input!.digest;
    const again = createPassRandom(7, "inline/look", input);
    expect([again.uniform(), again.uniform()]).toEqual(drawn);
    expect(createPassRandom(7, "inline/other", input).uniform()).not.toBe(drawn[0]);
    expect(createPassRandom(7, "inline/look", "0".repeat(64)).uniform()).not.toBe(drawn[0]);
    expect(createPassRandom(8, "inline/look", input).uniform()).not.toBe(drawn[0]);
    // What the stream depends on is in the cache key: another seed reruns the step.
    const reseeded = await runSteps({ look: { use: "inline/look" } }, { seed: 8 });
    expect(reseeded.report.steps[0]!.status).toBe("ran");
    const same = await runSteps({ look: { use: "inline/look" } }, { seed: 8 });
    expect(same.report.steps[0]!.status).toBe("cached");
  });

  it("draws uniform and normal numbers with the right moments", () => {
    const random = createPassRandom(1, "test/moments", "");
    const n = 20_000;
    let sum = 0;
    let sumSquares = 0;
    let uniformSum = 0;
    let outOfRange = 0;
    for (let i = 0; i < n; i++) {
      const x = random.normal();
      sum += x;
      sumSquares += x * x;
      const u = random.uniform();
      if (u < 0 || u >= 1) outOfRange++;
      uniformSum += u;
    }
    expect(outOfRange).toBe(0);
    expect(Math.abs(sum / n)).toBeLessThan(0.03);
    expect(Math.abs(sumSquares / n - 1)).toBeLessThan(0.05);
    expect(Math.abs(uniformSum / n - 0.5)).toBeLessThan(0.01);
  });

  it("keeps a pass from changing its options", async () => {
    const error = await failure({
      m: { use: "inline/mutate-options", options: { list: [1, 2, 3] } },
    });
    expect(error.code).toBe("PASS_FAILED");
    expect((error.cause as Error).name).toBe("TypeError");
  });

  it("names the data source no loaded plugin provides", async () => {
    const error = await failure(
      { d: { use: "inline/read-data", options: { from: "calibration" } } },
      { data: { calibration: { use: "npz", options: {} } } },
    );
    expect(error.code).toBe("PASS_FAILED");
    const cause = error.cause;
    if (!isLatheError(cause)) throw new Error("the cause should be a LatheError");
    expect(cause.code).toBe("DATA_UNKNOWN");
    expect(cause.message).toBe(
      'data "calibration": uses data source "npz", which no loaded plugin provides',
    );
    expect(cause.hint).toBe("add the plugin that defines it to plugins:");
  });

  it("refuses data the step's options do not name: its cache key would not cover it", async () => {
    const error = await failure(
      { d: { use: "inline/read-data" } },
      { data: { calibration: { use: "npz", options: {} } } },
    );
    expect(error.code).toBe("PASS_FAILED");
    const cause = error.cause;
    if (!isLatheError(cause)) throw new Error("the cause should be a LatheError");
    expect(cause.code).toBe("PLUGIN_CONTRACT");
    expect(cause.message).toBe(
      'Plugin author: inline-plugin: pass inline/read-data read data "calibration", which its options do not name',
    );
    expect(cause.hint).toMatch(/take the data set's name from an option/);
  });

  it("names the data a recipe lacks", async () => {
    const error = await failure({
      d: { use: "inline/read-data", options: { from: "calibration" } },
    });
    expect((error.cause as Error).message).toBe(
      'data "calibration": step "d" (pass inline/read-data) asked for it, but the recipe\'s data: section has no such entry',
    );
  });

  it("checks a pass's required components before running it", async () => {
    const error = await failure({ u: { use: "inline/needs-unet" } });
    expect(error.code).toBe("PASS_REQUIREMENT");
    expect(error.message).toBe(
      'step "u" (inline/needs-unet) cannot run on its input: it needs component "unet", and the input has model',
    );
  });
});
