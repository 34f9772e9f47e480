import { mkdtemp, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  builtinDataPlugin,
  builtinMetricsPlugin,
  definePass,
  definePlugin,
  isLatheError,
  type LatheError,
  loadPlugins,
  PLUGIN_API_VERSION,
  type PluginRegistry,
  planRecipe,
  type RunResult,
  readRecipe,
  runPipeline,
  validateRecipe,
} from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import zooPlugin from "../../../plugins/zoo/src/index.js";
import { TEST_PLUGIN } from "./recipe-fixture.js";

const inline = definePlugin({
  meta: { name: "inline-locations", version: "0.0.1", apiVersion: PLUGIN_API_VERSION },
  passes: [
    definePass<{ calibration: string }>({
      id: "inline/read-data",
      summary: "Read every record of the calibration data.",
      options: {
        type: "object",
        properties: {
          calibration: { type: "string", default: "calibration", description: "A data set." },
        },
      },
      async run(bundle, context) {
        for await (const _ of context.data(context.options.calibration).records()) {
          // Reading is the point.
        }
        return { bundle, modified: false };
      },
    }),
  ],
  metrics: [
    {
      id: "inline/only-reference",
      summary: "A value the reference has and candidates lack.",
      options: { type: "object", properties: {} },
      measure: async (_bundle, context): Promise<Record<string, number>> =>
        context.candidatePath === context.referencePath ? { x: 1 } : {},
    },
  ],
});

const tempDir = tempDirs(afterAll);

const root = tempDir("lathe-locations-");
let registry: PluginRegistry;
beforeAll(async () => {
  registry = await loadPlugins([TEST_PLUGIN], root, {
    builtins: [builtinDataPlugin, builtinMetricsPlugin, zooPlugin, inline],
  });
});

/** Writes the recipe, loads it as `lathe run` does, runs it, and returns what it threw. */
async function runYaml(
  yaml: string,
): Promise<{ file: string; error?: LatheError; result?: RunResult }> {
  const dir = await mkdtemp(join(root, "recipe-"));
  const file = join(dir, "recipe.yaml");
  await writeFile(file, yaml);
  const recipe = validateRecipe(await readRecipe(file), registry);
  try {
    return { file, result: await runPipeline(planRecipe(recipe, registry)) };
  } catch (error) {
    if (!isLatheError(error)) throw error;
    return { file, error };
  }
}

const HEAD = `model: zoo:llama?size=tiny
target:
  threads: 1
  shapes: { input_ids: [1, 4], attention_mask: [1, 4], position_ids: [1, 4] }
`;

describe("errors raised while running name the recipe key, file:line:col", () => {
  it("a pass that fails: the step", async () => {
    const { file, error } = await runYaml(`${HEAD}passes:
  first: { use: test/rename-nodes }
  broken:
    use: test/fail
    options: { message: boom }
`);
    expect(error?.code).toBe("PASS_FAILED");
    expect(error?.where).toBe(`${file}:7:3 passes.broken`);
    expect(error?.hint).toContain("reproducer");
  });

  it("a pass that writes an invalid model: the step", async () => {
    const { file, error } = await runYaml(`${HEAD}passes:
  bad:
    use: test/forget-attribute
`);
    expect(error?.code).toBe("PASS_OUTPUT_INVALID");
    expect(error?.where).toBe(`${file}:6:3 passes.bad`);
  });

  it("a data set that cannot be read: its data: entry, and the step that read it", async () => {
    const { file, error } = await runYaml(`${HEAD}data:
  calibration:
    use: npz
    options: { path: ./missing.npz }
passes:
  reader: { use: inline/read-data }
`);
    expect(error?.code).toBe("FILE_NOT_FOUND");
    expect(error?.where).toBe(`${file}:6:3 data.calibration`);
    expect(error?.message).toBe(
      `data "calibration" (read by step "reader" (pass inline/read-data)) cannot be read: no such file (${join(file, "..", "missing.npz")})`,
    );
    expect(error?.hint).toContain("check the path");
  });

  it("a metric that cannot measure the reference: its evaluate.metrics key", async () => {
    const { file, error } = await runYaml(`model: zoo:llama?size=tiny
passes:
  renamed: { use: test/rename-nodes }
evaluate:
  metrics:
    core/size: {}
    core/latency: {}
`);
    expect(error?.code).toBe("SHAPE_UNBOUND");
    expect(error?.where).toBe(`${file}:7:5 evaluate.metrics.core/latency`);
    expect(error?.message).toMatch(/^metric core\/latency cannot measure the reference: input /);
    expect(error?.hint).toContain("target.shapes");
  });

  it("a constraint that cannot be judged: its evaluate.constraints entry", async () => {
    const { file, result } = await runYaml(`${HEAD}passes:
  renamed: { use: test/rename-nodes }
evaluate:
  metrics:
    inline/only-reference: {}
  constraints:
    - only-reference.x <= 2
`);
    const [check] = result!.report.evaluation!.candidates[0]!.checks;
    expect(check).toEqual({
      constraint: "only-reference.x <= 2",
      passed: false,
      reason: "only-reference.x was not measured",
      where: `${file}:11:7 evaluate.constraints[0]`,
    });
  });
});
