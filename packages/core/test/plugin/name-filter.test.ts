import { join } from "node:path";
import {
  createNameFilter,
  definePass,
  definePlugin,
  isLatheError,
  loadRecipe,
  nameFilterSchema,
  PluginRegistry,
  RecipeError,
} from "@lathe/core";
import { describe, expect, it } from "vitest";
import { writeFiles } from "../recipe/test-registry.js";

describe("createNameFilter: the one meaning of include/exclude", () => {
  const names = ["/h.0/attn/c_proj/Gemm", "/h.1/attn/c_attn/Gemm", "/h_1/mlp/Gemm", "/lm_head"];
  const selected = (include: string[], exclude: string[] = []) => {
    const filter = createNameFilter({ include, exclude });
    return names.filter((n) => filter(n) === undefined);
  };

  it("selects every name when include is empty", () => {
    expect(selected([])).toEqual(names);
  });

  it("searches regular expressions anywhere in the name: a plain name matches by containment", () => {
    expect(selected(["attn"])).toEqual(names.slice(0, 2));
    expect(selected(["/h\\.1/"])).toEqual(["/h.1/attn/c_attn/Gemm"]);
    // An unescaped dot is any character, as in every regular expression.
    expect(selected(["/h.1/"])).toEqual(["/h.1/attn/c_attn/Gemm", "/h_1/mlp/Gemm"]);
    expect(selected(["^/lm_head$", "c_proj/Gemm$"])).toEqual([names[0], "/lm_head"]);
  });

  it("lets exclude win over include, and says which pattern excluded a name", () => {
    const filter = createNameFilter({ include: ["Gemm"], exclude: ["c_proj"] });
    expect(filter("/h.0/attn/c_proj/Gemm")).toBe('name matches exclude pattern "c_proj"');
    expect(filter("/lm_head")).toBe("name matches no include pattern");
    expect(filter("/h.1/attn/c_attn/Gemm")).toBeUndefined();
  });

  it("refuses a pattern that is not a regular expression, naming it", () => {
    let thrown: unknown;
    try {
      createNameFilter({ include: [], exclude: ["c_proj("] });
    } catch (error) {
      thrown = error;
    }
    expect(isLatheError(thrown) && thrown.code).toBe("NAME_PATTERN_INVALID");
    expect((thrown as Error).message).toContain('exclude pattern "c_proj("');
  });
});

describe("nameFilterSchema", () => {
  const registry = new PluginRegistry([
    definePlugin({
      meta: { name: "lathe-plugin-filter", version: "1.0.0", apiVersion: 1 },
      passes: [
        definePass({
          id: "filter/touch",
          summary: "A pass with include/exclude.",
          options: {
            type: "object",
            properties: nameFilterSchema({
              names: "node names",
              selected: "are touched",
              excluded: "are left alone",
            }),
          },
          run: (bundle) => ({ bundle, modified: false }),
        }),
      ],
    }),
  ]);

  it("describes the meaning in both options", () => {
    const { include, exclude } = nameFilterSchema({
      names: "node names",
      selected: "are touched",
      excluded: "are left alone",
    });
    for (const option of [include, exclude]) {
      expect(option.description).toMatch(/regular expressions, searched anywhere in the name/);
      expect(option.default).toEqual([]);
    }
    expect(include.description).toMatch(/only matching nodes are touched; empty: all/);
    expect(exclude.description).toMatch(/Matching nodes are left alone, also when include/);
  });

  it("rejects an invalid pattern when the recipe loads, at its line and column", async () => {
    const dir = await writeFiles({
      "recipe.yaml": [
        "model: ./model.onnx",
        "passes:",
        "  touch:",
        "    use: filter/touch",
        '    options: { include: ["ok", "h.0/("] }',
        "",
      ].join("\n"),
    });
    const error = await loadRecipe(join(dir, "recipe.yaml"), registry).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RecipeError);
    expect((error as RecipeError).diagnostics).toEqual([
      expect.objectContaining({
        path: "passes.touch.options.include[1]",
        line: 5,
        column: 32,
        message: 'must be a regular expression (got "h.0/(")',
      }),
    ]);
  });
});
