import { join } from "node:path";
import type { OptionsSchema } from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatOptionsTable, optionRows } from "../src/format/options-table.js";
import { isBuilt, lathe, SKIP_REASON, TEST_PLUGIN, yaml } from "./cli-helpers.js";

const built = isBuilt("plugins/index", "plugins/describe");
let dir: string;
const tempDir = tempDirs(afterAll);

describe("options tables from a schema", () => {
  const schema: OptionsSchema = {
    type: "object",
    properties: {
      bits: { enum: [4, 8], default: 4, description: "Weight bits." },
      blockSize: { type: "integer", minimum: 16, maximum: 256, default: 32, description: "Block." },
      layers: { type: "array", items: { type: "string" }, description: "Layer names." },
      scheme: { type: "string", enum: ["symmetric", "asymmetric"], description: "Zero point." },
      target: { type: ["string", "null"], description: "Anything." },
    },
    required: ["layers"],
  };

  it("reads name, type, default and description, in schema order", () => {
    expect(optionRows(schema)).toEqual([
      { name: "bits", type: "4 | 8", default: 4, required: false, description: "Weight bits." },
      {
        name: "blockSize",
        type: "integer ≥ 16 ≤ 256",
        default: 32,
        required: false,
        description: "Block.",
      },
      { name: "layers", type: "string[]", required: true, description: "Layer names." },
      {
        name: "scheme",
        type: "symmetric | asymmetric",
        required: false,
        description: "Zero point.",
      },
      { name: "target", type: "string | null", required: false, description: "Anything." },
    ]);
  });

  it("prints them aligned, marking required options", () => {
    expect(formatOptionsTable(optionRows(schema))).toBe(
      [
        "  option     type                    default     description",
        "  bits       4 | 8                   4           Weight bits.",
        "  blockSize  integer ≥ 16 ≤ 256      32          Block.",
        "  layers     string[]                (required)  Layer names.",
        "  scheme     symmetric | asymmetric              Zero point.",
        "  target     string | null                       Anything.",
      ].join("\n"),
    );
    expect(formatOptionsTable([])).toBe("  (no options)");
  });
});

describe.skipIf(!built)(`lathe plugins${built ? "" : ` (skipped: ${SKIP_REASON})`}`, () => {
  beforeAll(async () => {
    dir = tempDir("lathe-cli-plugins-");
  });

  it("lists the built-ins and a plugin given by path, with options tables", () => {
    const { status, stdout, stderr } = lathe(["plugins", "--plugin", TEST_PLUGIN], dir);
    expect(stderr).toBe("");
    expect(status).toBe(0);
    const lines = stdout.split("\n");
    // the built-ins first, in builtin-plugins.ts order
    const headings = lines.filter((line) => line.startsWith("@lathe/")).map((l) => l.split(" ")[0]);
    expect(headings).toEqual([
      "@lathe/core/data",
      "@lathe/core/metrics",
      "@lathe/core/onnx",
      "@lathe/plugin-zoo",
      "@lathe/plugin-quantize",
      "@lathe/plugin-flash-attention",
      "@lathe/plugin-diffusion",
      "@lathe/plugin-latent",
      "@lathe/plugin-prune",
      "@lathe/plugin-ctc",
    ]);
    expect(lines).toContain(
      "@lathe/plugin-zoo 0.1.0  Built-in generative models shaped like real ONNX exports.",
    );
    expect(lines).toContain("lathe-plugin-test 1.0.0");
    expect(stdout).toContain(
      yaml(
        "  pass test/slow  Work through units with a pause each, reporting progress; stops when aborted.",
        "    option   type         default  description",
        "    units    integer ≥ 1  10       Units of work.",
        "    delayMs  integer ≥ 0  50       Pause per unit, in milliseconds.",
      ),
    );
    expect(lines).toContain(
      "  pass test/add-contrib-gelu  Apply com.microsoft Gelu to every float output (declares the domain).",
    );
  });

  it("--json lists plugins as data", () => {
    const { status, stdout } = lathe(["plugins", "--json"], dir);
    expect(status).toBe(0);
    const plugins = JSON.parse(stdout) as { name: string }[];
    expect(plugins.map((p) => p.name)).toEqual([
      "@lathe/core/data",
      "@lathe/core/metrics",
      "@lathe/core/onnx",
      "@lathe/plugin-zoo",
      "@lathe/plugin-quantize",
      "@lathe/plugin-flash-attention",
      "@lathe/plugin-diffusion",
      "@lathe/plugin-latent",
      "@lathe/plugin-prune",
      "@lathe/plugin-ctc",
    ]);
    expect(plugins.find((p) => p.name === "@lathe/plugin-zoo")).toEqual({
      name: "@lathe/plugin-zoo",
      version: "0.1.0",
      apiVersion: 1,
      source: { kind: "built-in" },
      description: "Built-in generative models shaped like real ONNX exports.",
      passes: [],
      metrics: [],
      dataSources: [],
      modelSources: [
        {
          scheme: "zoo",
          summary: "A built-in model: zoo:<name>?size=<preset>&<key>=<value>&seed=<n>",
        },
      ],
    });
  });

  it("--json says where a plugin given by path came from, and its version", () => {
    const { status, stdout } = lathe(["plugins", "--json", "--plugin", TEST_PLUGIN], dir);
    expect(status).toBe(0);
    const plugins = JSON.parse(stdout) as { name: string; version: string; source: unknown }[];
    expect(plugins.find((p) => p.name === "lathe-plugin-test")).toMatchObject({
      version: "1.0.0",
      source: { kind: "path", specifier: TEST_PLUGIN, file: join(TEST_PLUGIN, "index.js") },
    });
  });

  it("describe prints a pass's documentation and options table", () => {
    const { status, stdout } = lathe(
      ["plugins", "describe", "test/rename-nodes", "-p", TEST_PLUGIN],
      dir,
    );
    expect(status).toBe(0);
    expect(stdout).toBe(
      yaml(
        "test/rename-nodes  Prefix every node name.",
        "plugin: lathe-plugin-test 1.0.0",
        "",
        "Renames every node of every component to `<prefix><old name>`. Changes no numbers.",
        "",
        "options:",
        "  option  type    default     description",
        '  prefix  string  "renamed/"  Text put before each node name.',
      ),
    );
  });

  it("describe of an unknown pass: exit 2 with a suggestion", () => {
    const { status, stderr } = lathe(
      ["plugins", "describe", "test/rename-node", "-p", TEST_PLUGIN],
      dir,
    );
    expect(status).toBe(2);
    expect(stderr).toBe(
      yaml(
        'error: no loaded plugin defines pass "test/rename-node"',
        '  hint: did you mean "test/rename-nodes"?',
      ),
    );
  });
});
