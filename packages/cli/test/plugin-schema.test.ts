import { existsSync, readdirSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { definePass, LatheError, passOptionsWithDefaults } from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateOptionsSchemas, isGeneratedModuleCurrent } from "../src/plugin-schema/generate.js";

let dir: string;

const tempDir = tempDirs(afterAll);
beforeAll(async () => {
  dir = tempDir("lathe-plugin-schema-");
});

let packages = 0;
/** A package folder with `src/pass.ts` holding `source` (and no tsconfig: the defaults apply). */
async function pluginPackage(source: string): Promise<string> {
  const root = join(dir, `p${packages++}`);
  await mkdir(join(root, "src"), { recursive: true });
  await writeFile(join(root, "src", "pass.ts"), source);
  return root;
}

/** A pass whose options are `body`, written as an exported interface. */
function passSource(body: string, preamble = ""): string {
  return `${preamble}
declare function definePass<O>(pass: { id: string; options: unknown }): unknown;
declare const myOptionsSchema: unknown;
export interface MyOptions {
${body}
}
export const myPass = definePass<MyOptions>({ id: "my/pass", options: myOptionsSchema });
`;
}

async function schemaOf(body: string, preamble = ""): Promise<Record<string, unknown>> {
  const module = generateOptionsSchemas(await pluginPackage(passSource(body, preamble)));
  expect(module.schemas.map((s) => [s.id, s.exportName])).toEqual([["my/pass", "myOptionsSchema"]]);
  return module.schemas[0]!.schema;
}

function errorOf(run: () => unknown): LatheError {
  try {
    run();
  } catch (error) {
    if (error instanceof LatheError) return error;
    throw error;
  }
  throw new Error("expected a LatheError");
}

describe("lathe plugin schema: types and JSDoc to JSON Schema", () => {
  it("honours every tag, enums in written order, optional, arrays, Record, aliases, nesting", async () => {
    const schema = await schemaOf(
      `
  /** Bits per weight. @default 4 */
  bits: 4 | 8;
  /** Where it runs; auto reads the recipe. @default "auto" */
  target: "auto" | Kind;
  /**
   * How many, a whole number.
   * @integer
   * @minimum 0
   * @maximum 10
   * @default 3
   */
  count: number;
  /** A ratio. @exclusiveMinimum 0 @exclusiveMaximum 1 */
  ratio: number;
  /** A tag. @pattern ^[a-z]+$ @examples ["abc", "xyz"] */
  tag?: string;
  /** Names. @minItems 1 @uniqueItems @default ["a"] */
  names: string[];
  /** Read-only list. */
  frozen?: readonly Kind[];
  /** Shapes by input name. @default {} */
  shapes: Record<string, Dim[]>;
  /** Inner settings. @default {} */
  inner: Inner;
  /** Keep the I/O types: all, none or these. @default true */
  keep: boolean | string[];
  /** Free-form settings the pass checks itself. */
  extra?: Record<string, unknown>;`,
      `/** A dimension. @integer @minimum 1 */
export type Dim = number;
export type Kind = "gpu" | "cpu";
export interface Inner {
  /** Damping. @default 0.01 */
  damp: number;
  /** A name, required. */
  name: string;
}`,
    );
    expect(schema).toEqual({
      type: "object",
      additionalProperties: false,
      properties: {
        bits: { description: "Bits per weight.", enum: [4, 8], default: 4 },
        target: {
          description: "Where it runs; auto reads the recipe.",
          enum: ["auto", "gpu", "cpu"],
          default: "auto",
        },
        count: {
          description: "How many, a whole number.",
          type: "integer",
          minimum: 0,
          maximum: 10,
          default: 3,
        },
        ratio: {
          description: "A ratio.",
          type: "number",
          exclusiveMinimum: 0,
          exclusiveMaximum: 1,
        },
        tag: {
          description: "A tag.",
          type: "string",
          pattern: "^[a-z]+$",
          examples: ["abc", "xyz"],
        },
        names: {
          description: "Names.",
          type: "array",
          items: { type: "string" },
          minItems: 1,
          uniqueItems: true,
          default: ["a"],
        },
        frozen: { description: "Read-only list.", type: "array", items: { enum: ["gpu", "cpu"] } },
        shapes: {
          description: "Shapes by input name.",
          type: "object",
          additionalProperties: {
            type: "array",
            items: { description: "A dimension.", type: "integer", minimum: 1 },
          },
          default: {},
        },
        inner: {
          description: "Inner settings.",
          type: "object",
          additionalProperties: false,
          properties: {
            damp: { description: "Damping.", type: "number", default: 0.01 },
            name: { description: "A name, required.", type: "string" },
          },
          required: ["name"],
          default: {},
        },
        keep: {
          description: "Keep the I/O types: all, none or these.",
          anyOf: [{ type: "boolean" }, { type: "array", items: { type: "string" } }],
          default: true,
        },
        extra: { description: "Free-form settings the pass checks itself.", type: "object" },
      },
      required: ["ratio"],
    });
  });

  it("gives the schema ajv fills defaults from, as the engine does", async () => {
    const schema = await schemaOf(
      `  /** Bits. @default 4 */ bits: 4 | 8;\n  /** Nested. @default {} */ gptq: G;`,
      `export interface G {
  /** Samples. @integer @minimum 1 @default 32 */
  samples: number;
}`,
    );
    const pass = definePass({
      id: "my/pass",
      summary: "",
      options: schema as never,
      run: (bundle) => ({ bundle, modified: false }),
    });
    expect(passOptionsWithDefaults(pass, {})).toEqual({ bits: 4, gptq: { samples: 32 } });
    expect(() => passOptionsWithDefaults(pass, { gptq: { samples: 1.5 } })).toThrow(
      /must be integer/,
    );
  });

  it.each([
    ["a function", "  /** Callback. */ onDone: () => void;", "functions cannot be written"],
    ["a Date", "  /** When. */ when: Date;", "Date is not JSON"],
    ["a Map", "  /** Table. */ table: Map<string, number>;", "Map is not JSON"],
    ["any", "  /** Anything. */ value: any;", "says nothing a recipe can be checked against"],
    ["null", "  /** Maybe. */ value: string | null;", "leave the option out instead"],
    ["a tuple", "  /** Pair. */ pair: [number, number];", "tuples are not supported"],
  ])("refuses %s, naming the option and what to write instead", async (_, body, why) => {
    const root = await pluginPackage(passSource(body));
    const error = errorOf(() => generateOptionsSchemas(root));
    expect(error.code).toBe("OPTIONS_TYPE_UNSUPPORTED");
    expect(error.where).toMatch(/^src\/pass\.ts:\d+:\d+$/);
    expect(error.message).toContain(why);
    expect(error.message).toMatch(/^option "\w+" has type `/);
    expect(error.hint).toContain("Record<string, T>");
  });

  it("requires a description on every option, nested ones included", async () => {
    const root = await pluginPackage(
      passSource(
        "  /** Nested. @default {} */ inner: Inner;",
        "export interface Inner { depth: number }",
      ),
    );
    const error = errorOf(() => generateOptionsSchemas(root));
    expect(error.code).toBe("OPTIONS_UNDOCUMENTED");
    expect(error.message).toBe('option "inner.depth" has no description');
  });

  it("refuses a misspelt tag with a suggestion, and a @default that is not JSON", async () => {
    const misspelt = await pluginPackage(passSource("  /** Count. @minimun 1 */ count: number;"));
    expect(errorOf(() => generateOptionsSchemas(misspelt)).message).toBe(
      'option "count": @minimun is not a tag Lathe knows: did you mean @minimum?',
    );
    const notJson = await pluginPackage(passSource("  /** Mode. @default fast */ mode: string;"));
    expect(errorOf(() => generateOptionsSchemas(notJson)).message).toBe(
      'option "mode": @default needs a JSON value (strings in double quotes), not `fast`',
    );
  });

  it("requires the pass's options to be the generated constant", async () => {
    const root = await pluginPackage(
      passSource("  /** A. */ a?: string;").replace(
        "options: myOptionsSchema",
        "options: { type: 'object' }",
      ),
    );
    const error = errorOf(() => generateOptionsSchemas(root));
    expect(error.code).toBe("OPTIONS_SCHEMA_NOT_GENERATED");
    expect(error.hint).toContain("options: myOptionsSchema");
  });

  it("writes a module the pass imports, formatted as Biome writes it", async () => {
    const root = await pluginPackage(passSource("  /** Bits. @default 4 */ bits: 4 | 8;"));
    const module = generateOptionsSchemas(root);
    expect(module.file).toBe(join(root, "src", "generated", "options.ts"));
    expect(module.text).toContain(
      `import type { OptionsSchema } from "@lathe/core";

/** The options of \`my/pass\`, from \`MyOptions\`. */
export const myOptionsSchema: OptionsSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    bits: {
      description: "Bits.",
      enum: [4, 8],
      default: 4,
    },
  },
};
`,
    );
    expect(await isGeneratedModuleCurrent(module)).toBe(false);
  });
});

describe("built-in plugins and core", () => {
  const packagesDir = fileURLToPath(new URL("../..", import.meta.url));
  // Core's own metrics, data sources and passes are written the way plugins are.
  const packages = [
    "core",
    ...readdirSync(join(packagesDir, "plugins")).map((name) => `plugins/${name}`),
  ];
  it.each(packages)("packages/%s: the generated options schemas are current", async (name) => {
    const module = generateOptionsSchemas(join(packagesDir, name));
    if (module.schemas.length === 0) {
      expect(existsSync(module.file)).toBe(false);
      return;
    }
    expect(
      await isGeneratedModuleCurrent(module),
      `packages/${name}/src/generated/options.ts is stale: run \`pnpm schemas\``,
    ).toBe(true);
  });

  it("core's generated module imports OptionsSchema from core itself, not by package name", () => {
    const module = generateOptionsSchemas(join(packagesDir, "core"));
    expect(module.text).toContain('import type { OptionsSchema } from "../plugin/types.js";');
    expect(module.schemas.map((s) => s.id)).toEqual(
      expect.arrayContaining(["npy", "random", "core/latency", "core/size", "onnx/convert-opset"]),
    );
  });
});
