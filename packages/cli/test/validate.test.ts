import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PluginRegistry, recipeSchema } from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { builtinPlugins } from "../src/builtin-plugins.js";

// The real CLI runs from packages/cli/dist (and @lathe/core from packages/core/dist), which
// `pnpm test` builds with `tsc -b` before running vitest.
const cliRoot = fileURLToPath(new URL("..", import.meta.url));
const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));
const bin = join(cliRoot, "bin/run.js");
const built = existsSync(join(cliRoot, "dist/commands/validate.js"));
const SKIP_REASON = "packages/cli/dist is missing; run `npx tsc -b` first";
const exampleRecipes = (await readdir(join(repoRoot, "recipes"))).filter((f) =>
  f.endsWith(".yaml"),
);
if (!built) console.warn(`lathe validate/schema CLI tests skipped: ${SKIP_REASON}`);

const LOCAL_PLUGIN = `export default {
  meta: { name: "lathe-plugin-local", version: "0.1.0", apiVersion: 1 },
  passes: [
    {
      id: "local/rename",
      summary: "Renames the main graph.",
      options: {
        type: "object",
        properties: {
          name: { type: "string", default: "renamed", description: "The new graph name." },
          times: { type: "integer", minimum: 1, default: 1, description: "How often." },
        },
      },
      run: (bundle) => ({ bundle, modified: false }),
    },
  ],
};
`;

const THREE_MISTAKES = `model: ./model.onnx
target:
  threads: -1
output:
  dri: ./out
select:
  direction: minimise
`;

let dir: string;
const tempDir = tempDirs(afterAll);

function lathe(args: string[], cwd = dir) {
  const result = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: "utf8" });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("the committed recipe.schema.json", () => {
  it("is the schema of the built-in plugins (regenerate: pnpm lathe schema -o recipe.schema.json)", async () => {
    const committed = JSON.parse(await readFile(join(repoRoot, "recipe.schema.json"), "utf8"));
    expect(committed).toEqual(recipeSchema(new PluginRegistry(builtinPlugins)));
  });
});

describe.skipIf(!built)(`lathe validate${built ? "" : ` (skipped: ${SKIP_REASON})`}`, () => {
  beforeAll(async () => {
    dir = tempDir("lathe-cli-validate-");
    await writeFile(join(dir, "local-plugin.mjs"), LOCAL_PLUGIN);
    await writeFile(join(dir, "mistakes.yaml"), THREE_MISTAKES);
    await writeFile(
      join(dir, "steps.yaml"),
      [
        "model: ./model.onnx",
        "plugins: [./local-plugin.mjs]",
        "passes:",
        "  first: { use: local/rename }",
        "  second: { use: local/rename, input: model, options: { name: b, times: 2 } }",
        "  off: { use: local/rename, enabled: false }",
        "",
      ].join("\n"),
    );
  });

  // One test per recipe: each spawns the CLI, and a loaded machine needs seconds for each.
  it.each(exampleRecipes)(
    "example recipe %s carries the schema line and is valid",
    async (recipe) => {
      const path = join("recipes", recipe);
      const text = await readFile(join(repoRoot, path), "utf8");
      expect(text.split("\n")[0]).toBe("# yaml-language-server: $schema=../recipe.schema.json");
      const { status, stdout, stderr } = lathe(["validate", path], repoRoot);
      expect(stderr).toBe("");
      expect(status).toBe(0);
      expect(stdout).toMatch(new RegExp(`^recipes/${recipe.replace(".", "\\.")} is valid: `));
    },
  );

  it("a valid recipe: exit 0 and a one-line summary of its steps", () => {
    const { status, stdout, stderr } = lathe(["validate", "steps.yaml"]);
    expect(stderr).toBe("");
    expect(status).toBe(0);
    expect(stdout).toBe(
      "steps.yaml is valid: 3 steps (first: local/rename; second: local/rename; off: local/rename, disabled)\n",
    );
  });

  it("--json prints the resolved recipe with defaults filled in", () => {
    const { status, stdout } = lathe(["validate", "steps.yaml", "--json"]);
    expect(status).toBe(0);
    const result = JSON.parse(stdout);
    expect(result.valid).toBe(true);
    expect(result.file).toBe(join(dir, "steps.yaml"));
    expect(result.recipe.passes.first).toEqual({
      use: "local/rename",
      options: { name: "renamed", times: 1 },
      enabled: true,
      convertOpset: true,
    });
    expect(result.recipe.target).toEqual({
      providers: ["cpu"],
      fallback: false,
      threads: 0,
      shapes: {},
    });
  });

  it("three mistakes: exit 2 and all three, with lines and hints", () => {
    const { status, stdout, stderr } = lathe(["validate", "mistakes.yaml"]);
    expect(stdout).toBe("");
    expect(status).toBe(2);
    expect(stderr).toBe(
      [
        "error: mistakes.yaml is not a valid recipe (3 problems):",
        "mistakes.yaml:3:3 target.threads: must be at least 0 (got -1)",
        'mistakes.yaml:5:3 output.dri: unknown key "dri"',
        '  hint: did you mean "dir"?',
        'mistakes.yaml:7:3 select.direction: must be one of "minimize", "maximize" (got "minimise")',
        '  hint: did you mean "minimize"?',
        "",
      ].join("\n"),
    );
  });

  it("--json on an invalid recipe: exit 2 and the diagnostics as data", () => {
    const { status, stdout } = lathe(["validate", "mistakes.yaml", "--json"]);
    expect(status).toBe(2);
    const { error } = JSON.parse(stdout);
    expect(error.code).toBe("RECIPE_INVALID");
    expect(
      error.diagnostics.map((d: { path: string; line: number }) => `${d.line} ${d.path}`),
    ).toEqual(["3 target.threads", "5 output.dri", "7 select.direction"]);
    expect(error.diagnostics[1].file).toBe(join(dir, "mistakes.yaml"));
  });

  it("checks the options of a plugin's pass", async () => {
    await writeFile(
      join(dir, "bad-options.yaml"),
      "model: ./m.onnx\nplugins: [./local-plugin.mjs]\npasses:\n  r:\n    use: local/rename\n    options: { nmae: x, times: 0 }\n",
    );
    const { status, stderr } = lathe(["validate", "bad-options.yaml"]);
    expect(status).toBe(2);
    expect(stderr.split("\n")).toEqual([
      "error: bad-options.yaml is not a valid recipe (2 problems):",
      'bad-options.yaml:6:16 passes.r.options.nmae: unknown key "nmae"',
      '  hint: did you mean "name"?',
      "bad-options.yaml:6:25 passes.r.options.times: must be at least 1 (got 0)",
      "",
    ]);
  });

  it("a plugin that cannot be found: exit 1 and the loader's error", async () => {
    await writeFile(join(dir, "missing-plugin.yaml"), "model: ./m.onnx\nplugins: [./nope.mjs]\n");
    const { status, stderr } = lathe(["validate", "missing-plugin.yaml"]);
    expect(status).toBe(1);
    expect(stderr).toContain('cannot find plugin "./nope.mjs"');
  });

  it("a missing recipe file: exit 1", () => {
    const { status, stderr } = lathe(["validate", "nothing.yaml"]);
    expect(status).toBe(1);
    expect(stderr.split("\n")[0]).toBe("error: nothing.yaml: no such file");
  });

  it("no recipe argument is a usage error: exit 2", () => {
    const { status, stderr } = lathe(["validate"]);
    expect(status).toBe(2);
    expect(stderr).toContain("Missing 1 required arg");
  });
});

describe.skipIf(!built)(`lathe schema${built ? "" : ` (skipped: ${SKIP_REASON})`}`, () => {
  beforeAll(async () => {
    dir = tempDir("lathe-cli-schema-");
    await writeFile(join(dir, "local-plugin.mjs"), LOCAL_PLUGIN);
  });

  it("prints the committed schema byte for byte", async () => {
    const { status, stdout, stderr } = lathe(["schema"], repoRoot);
    expect(stderr).toBe("");
    expect(status).toBe(0);
    expect(stdout).toBe(await readFile(join(repoRoot, "recipe.schema.json"), "utf8"));
  });

  it("-o writes the file; --plugin adds a plugin's passes and options", async () => {
    const { status, stdout } = lathe([
      "schema",
      "--plugin",
      "./local-plugin.mjs",
      "-o",
      "recipe.schema.json",
    ]);
    expect(status).toBe(0);
    // The built-ins' counts plus the local plugin's one pass.
    const builtins = new PluginRegistry(builtinPlugins);
    expect(stdout).toBe(
      `wrote recipe.schema.json: ${builtins.passes.size + 1} passes, ${builtins.dataSources.size} data sources, ${builtins.metrics.size} metrics\n`,
    );
    const schema = JSON.parse(await readFile(join(dir, "recipe.schema.json"), "utf8"));
    expect(schema.definitions.step.properties.use.enum).toEqual(
      [...builtins.passes.keys(), "local/rename"].sort(),
    );
    const local = schema.definitions.step.allOf.find(
      (branch: { if: { properties: { use: { const: string } } } }) =>
        branch.if.properties.use.const === "local/rename",
    );
    expect(local.then.properties.options.properties.times).toEqual({
      type: "integer",
      minimum: 1,
      default: 1,
      description: "How often.",
    });
  });
});
