import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  builtinMetricsPlugin,
  type PluginRegistry,
  RecipeError,
  PluginRegistry as Registry,
  readRecipe,
  validateRecipe,
} from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let dir: string;

const tempDir = tempDirs(afterAll);
let registry: PluginRegistry;
beforeAll(async () => {
  dir = tempDir("lathe-eval-checks-");
  registry = new Registry([builtinMetricsPlugin]);
});

async function validate(text: string) {
  const file = join(dir, "recipe.yaml");
  await writeFile(file, text);
  try {
    return { recipe: validateRecipe(await readRecipe(file), registry) };
  } catch (error) {
    if (!(error instanceof RecipeError)) throw error;
    return { diagnostics: error.diagnostics };
  }
}

const HEAD = "model: ./m.onnx\nevaluate:\n  metrics: { core/latency: {}, core/fidelity: {} }\n";

describe("constraints and objectives at validation", () => {
  it("fills the built-in metrics' defaults and accepts the documented grammar", async () => {
    const { recipe, diagnostics } = await validate(
      `${HEAD}  constraints:\n    - fidelity.top1 >= 0.98\n    - latency.p50 <= 0.5 * reference\n    - latency.p90 < reference\n    - fidelity.logits.kl <= 1e-3\nselect:\n  pareto: [latency.p50, fidelity.top1]\n`,
    );
    expect(diagnostics).toBeUndefined();
    expect(recipe!.evaluate.metrics["core/latency"]).toEqual({
      warmup: 3,
      runs: 20,
      minTimeMs: 1000,
      maxRuns: 10_000,
    });
    expect(recipe!.evaluate.metrics["core/fidelity"]).toEqual({ samples: 4 });
  });

  it("reports grammar errors and unknown values with positions and hints", async () => {
    const { diagnostics } = await validate(
      `${HEAD}  constraints:\n    - fidelity.top_1 >= 0.98\n    - latency.p50 <= fast\n    - latency.p50 = 3\nselect:\n  objective: latency.p55\n`,
    );
    expect(diagnostics!.map((d) => [d.path, d.line, d.column, d.message, d.hint])).toEqual([
      [
        "evaluate.constraints[0]",
        5,
        7,
        'the metric "fidelity" has no value "top_1"',
        'did you mean "fidelity.top1"?',
      ],
      [
        "evaluate.constraints[1]",
        6,
        7,
        'constraint "latency.p50 <= fast": expected a number, `reference` or `<number> * reference` after the comparison (at character 16)',
        expect.stringContaining("fidelity.top1 >= 0.98"),
      ],
      [
        "evaluate.constraints[2]",
        7,
        7,
        'constraint "latency.p50 = 3": "=" is not a comparison here: use <, <=, > or >= (at character 13)',
        expect.any(String),
      ],
      [
        "select.objective",
        9,
        3,
        'the metric "latency" has no value "p55"',
        'did you mean "latency.p50"?',
      ],
    ]);
  });

  it("reserves the step id selected", async () => {
    const { diagnostics } = await validate("model: ./m.onnx\npasses:\n  selected: { use: x/y }\n");
    expect(diagnostics!.map((d) => d.message)).toContain(
      '"selected" cannot be a step id: output.dir/selected holds the selected candidate',
    );
  });
});
