import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { PassGraph, Recipe, StepSpec } from "@lathe/core";
import type { PassGraph as SourceGraph } from "../../src/pipeline/plan.js";

/** The test plugin (test/plugins/test-plugin), by absolute path as a recipe may name it. */
export const TEST_PLUGIN = fileURLToPath(
  new URL("../../../../test/plugins/test-plugin", import.meta.url),
);

export type Steps = Record<string, Partial<StepSpec> & { use: string }>;

/**
 * A loaded recipe as `loadRecipe` returns it (defaults filled in), for the engine's tests. The
 * recipe file itself is written too, since the report records its hash.
 */
export async function makeRecipe(
  dir: string,
  steps: Steps,
  extra: Partial<Omit<Recipe, "passes">> = {},
): Promise<Recipe> {
  const file = join(dir, "recipe.yaml");
  await writeFile(file, `# engine test recipe\n${JSON.stringify(steps)}\n`);
  const passes: Record<string, StepSpec> = {};
  for (const [id, step] of Object.entries(steps)) {
    passes[id] = { options: {}, enabled: true, ...step };
  }
  return {
    file,
    model: "zoo:llama?size=tiny",
    plugins: [TEST_PLUGIN],
    target: { providers: ["cpu"], fallback: false, threads: 1, shapes: {} },
    data: {},
    passes,
    evaluate: { metrics: {}, constraints: [] },
    select: { direction: "minimize" },
    output: { dir: "out", cache: ".lathe/cache", externalDataThreshold: 0 },
    seed: 0,
    verify: "load",
    ...extra,
  };
}

/**
 * A planned graph typed as the engine's own modules see it: stage tests import a stage from
 * source, while `@lathe/core`'s types come from its build. Same object, two type declarations.
 */
export function stageGraph(graph: PassGraph): SourceGraph {
  return graph as unknown as SourceGraph;
}
