import { rm } from "node:fs/promises";
import { join } from "node:path";
import {
  definePass,
  formatDiagnostic,
  LatheError,
  loadRecipe,
  PluginRegistry,
  type RecipeError,
  readRecipe,
  recipeSchema,
  validateRecipe,
} from "@lathe/core";
import { Ajv } from "ajv";
import { afterAll, describe, expect, it } from "vitest";
import { catchLatheError } from "../fixtures/catch-lathe-error.js";
import { testPlugin, testRegistry, writeFiles, yaml } from "./test-registry.js";

type Schema = Record<string, unknown>;

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function recipeFile(text: string): Promise<string> {
  const dir = await writeFiles({ "recipe.yaml": text });
  dirs.push(dir);
  return join(dir, "recipe.yaml");
}

/** Every schema that describes a key: the values of `properties` and map-valued `additionalProperties`. */
function keySchemas(schema: Schema, path = "#"): [string, Schema][] {
  const found: [string, Schema][] = [];
  const properties = (schema.properties ?? {}) as Record<string, Schema>;
  for (const [key, property] of Object.entries(properties)) {
    found.push([`${path}/${key}`, property], ...keySchemas(property, `${path}/${key}`));
  }
  const additional = schema.additionalProperties;
  if (typeof additional === "object" && additional !== null && !("$ref" in additional)) {
    found.push(
      [`${path}/*`, additional as Schema],
      ...keySchemas(additional as Schema, `${path}/*`),
    );
  }
  const nested = [
    ...Object.entries((schema.definitions ?? {}) as Record<string, Schema>),
    ...((schema.allOf ?? []) as Schema[]).map((s, i) => [`allOf/${i}/then`, s.then] as const),
  ];
  for (const [name, sub] of nested) found.push(...keySchemas(sub as Schema, `${path}/${name}`));
  return found;
}

describe("recipeSchema", () => {
  const schema = recipeSchema(testRegistry);

  it("is a valid draft-07 schema", () => {
    const ajv = new Ajv({ strict: false });
    expect(ajv.validateSchema(schema), ajv.errorsText()).toBe(true);
    expect(schema.$schema).toBe("http://json-schema.org/draft-07/schema#");
  });

  it("offers the known ids as enums and the plugins' option schemas", () => {
    const definitions = schema.definitions as Record<string, Schema>;
    const step = definitions.step as { properties: { use: { enum: string[] } }; allOf: Schema[] };
    expect(step.properties.use.enum).toEqual([
      "graph/fuse-attention",
      "prune/magnitude",
      "quantize/dynamic-int8",
      "quantize/weight-only",
    ]);
    expect(step.allOf).toHaveLength(4);
    const data = definitions.dataSource as { properties: { use: { enum: string[] } } };
    expect(data.properties.use.enum).toEqual(["npz", "random"]);
    const evaluate = (schema.properties as Record<string, Schema>).evaluate as Schema;
    const metrics = (evaluate.properties as Record<string, Schema>).metrics as Schema;
    expect(Object.keys(metrics.properties as Schema)).toEqual(["perf/latency", "quality/fidelity"]);
  });

  it("describes every key, so editors can show help", () => {
    const keys = keySchemas(schema);
    // Core keys, steps, data, metric and pass options: enough that a missing walk would show.
    expect(keys.length).toBeGreaterThan(50);
    const undocumented = keys.filter(([, s]) => typeof s.description !== "string");
    expect(undocumented.map(([path]) => path)).toEqual([]);
  });

  it("checks pass options in an editor's validator too (no defaults, no Lathe checks)", () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    const validate = ajv.compile(schema);
    const recipe = (options: Schema) => ({
      model: "./m.onnx",
      passes: { q: { use: "quantize/weight-only", options } },
    });
    expect(validate(recipe({ bits: 8 }))).toBe(true);
    expect(validate(recipe({ blokSize: 8 }))).toBe(false);
    expect(validate.errors?.map((e) => e.params)).toContainEqual({
      additionalProperty: "blokSize",
    });
    expect(validate({ passes: {} })).toBe(false);
  });

  it("returns a copy: changing it changes nothing for the next caller", () => {
    const first = recipeSchema(testRegistry) as { properties: { seed: Schema } };
    first.properties.seed.minimum = 100;
    expect((recipeSchema(testRegistry) as typeof first).properties.seed.minimum).toBe(0);
  });
});

describe("plugin option schemas", () => {
  it("a broken one is blamed on its plugin", async () => {
    const broken = new PluginRegistry([
      {
        meta: { name: "lathe-plugin-broken", version: "0.1.0", apiVersion: 1 },
        passes: [
          definePass({
            id: "broken/pass",
            summary: "Has a typo in its schema.",
            options: { type: "object", properties: { level: { type: "integer", minimun: 1 } } },
            run: () => {
              throw new Error("not run");
            },
          }),
        ],
      },
    ]);
    const doc = await readRecipe(await recipeFile("model: ./m.onnx\n"));
    const error = catchLatheError(() => validateRecipe(doc, broken));
    expect(error.code).toBe("PLUGIN_CONTRACT");
    expect(error.message).toMatch(/^Plugin author: lathe-plugin-broken: /);
    expect(error.message).toContain('pass "broken/pass"');
    expect(error.message).toContain("minimun");
  });

  it("a registry without a pass knows none of its ids", async () => {
    const file = await recipeFile("model: ./m.onnx\npasses:\n  q: { use: quantize/weight-only }\n");
    await expect(loadRecipe(file, testRegistry)).resolves.toBeDefined();
    const empty = new PluginRegistry([{ ...testPlugin, passes: [] }]);
    const error = (await loadRecipe(file, empty).catch((e) => e)) as RecipeError;
    expect(error.diagnostics.map((d) => d.message)).toEqual([
      'unknown pass "quantize/weight-only"',
    ]);
    // The first registry's compiled validator is still the one used for it.
    await expect(loadRecipe(file, testRegistry)).resolves.toBeDefined();
  });
});

describe("diagnostic text", () => {
  it("one line per problem, file relative to the working directory, hint indented", async () => {
    const file = await recipeFile(yaml`
      model: ./m.onnx
      passes:
        int4:
          use: quantize/weight-only
          options:
            blockSize: 100
            blokSize: 64
    `);
    const error = (await loadRecipe(file, testRegistry).catch((e) => e)) as RecipeError;
    expect(error).toBeInstanceOf(LatheError);
    expect(error.format(join(file, ".."))).toBe(
      [
        "recipe.yaml is not a valid recipe (2 problems):",
        "recipe.yaml:6:7 passes.int4.options.blockSize: must be one of 16, 32, 64, 128, 256 (got 100)",
        'recipe.yaml:7:7 passes.int4.options.blokSize: unknown key "blokSize"',
        '  hint: did you mean "blockSize"?',
      ].join("\n"),
    );
    // Outside the working directory the path stays absolute.
    expect(formatDiagnostic(error.diagnostics[0]!, "/elsewhere")).toMatch(
      new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:6:7 `),
    );
  });
});
