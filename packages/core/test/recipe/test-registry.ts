import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import {
  definePass,
  definePlugin,
  type Plugin,
  PluginRegistry,
  singleModelBundle,
} from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll } from "vitest";

const unused = (): never => {
  throw new Error("recipe tests never run a pass, metric or source");
};

/** A plugin shaped like the real ones, whose option schemas exercise every rule the recipe checks. */
export const testPlugin: Plugin = definePlugin({
  meta: { name: "lathe-plugin-test", version: "1.0.0", apiVersion: 1 },
  passes: [
    definePass({
      id: "quantize/weight-only",
      summary: "Quantize weights to 4 or 8 bits in blocks.",
      options: {
        type: "object",
        properties: {
          bits: { type: "integer", enum: [4, 8], default: 4, description: "Bits per weight." },
          blockSize: {
            type: "integer",
            enum: [16, 32, 64, 128, 256],
            default: 32,
            description: "Weights per scale.",
          },
          symmetric: { type: "boolean", default: true, description: "No zero point." },
          calibration: { type: "string", description: "A data set name." },
        },
      },
      run: unused,
    }),
    definePass({
      id: "quantize/dynamic-int8",
      summary: "Dynamic int8 quantization of MatMul weights.",
      options: {
        type: "object",
        properties: {
          perChannel: { type: "boolean", default: false, description: "A scale per channel." },
          threshold: {
            type: "number",
            minimum: 0,
            maximum: 1,
            default: 0.5,
            description: "Skip weights below this share.",
          },
        },
      },
      run: unused,
    }),
    definePass({
      id: "prune/magnitude",
      summary: "Zero the smallest weights.",
      options: {
        type: "object",
        required: ["sparsity"],
        properties: {
          sparsity: {
            type: "number",
            exclusiveMinimum: 0,
            exclusiveMaximum: 1,
            description: "The share of weights to zero.",
          },
        },
      },
      run: unused,
    }),
    definePass({
      id: "graph/fuse-attention",
      summary: "Fuse attention subgraphs into one op.",
      options: { type: "object", properties: {} },
      run: unused,
    }),
  ],
  metrics: [
    {
      id: "perf/latency",
      summary: "Latency percentiles.",
      options: {
        type: "object",
        properties: {
          warmup: { type: "integer", minimum: 0, default: 3, description: "Untimed runs." },
          repeats: { type: "integer", minimum: 1, default: 10, description: "Timed runs." },
        },
      },
      measure: unused,
    },
    {
      id: "quality/fidelity",
      summary: "Agreement with the reference.",
      options: {
        type: "object",
        properties: { data: { type: "string", description: "The data set to compare on." } },
      },
      measure: unused,
    },
  ],
  dataSources: [
    {
      id: "random",
      summary: "Random inputs.",
      options: {
        type: "object",
        properties: {
          count: { type: "integer", minimum: 1, default: 8, description: "Samples." },
        },
      },
      open: unused,
    },
    {
      id: "npz",
      summary: "Arrays from an .npz file.",
      options: {
        type: "object",
        required: ["path"],
        properties: { path: { type: "string", description: "The .npz file." } },
      },
      open: unused,
    },
  ],
  modelSources: [
    {
      scheme: "zoo",
      summary: "Built-in models.",
      load: async () => singleModelBundle(unused()),
    },
  ],
});

export const testRegistry = new PluginRegistry([testPlugin]);

// Registered by the test file that imports this module: its folders go when that file's tests end.
const tempDir = tempDirs(afterAll);

/** Writes `files` (path → text) into a new temporary folder and returns the folder. */
export async function writeFiles(files: Readonly<Record<string, string>>): Promise<string> {
  const dir = tempDir("lathe-recipe-");
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

/** Strips the indentation of a template literal's lines, so YAML can be written inline. */
export function yaml(strings: TemplateStringsArray, ...values: unknown[]): string {
  const text = String.raw({ raw: strings.raw.map((s) => s.replace(/\\\$/g, "$")) }, ...values);
  const lines = text
    .replace(/^\n/, "")
    .replace(/\n[ ]*$/, "\n")
    .split("\n");
  const indent = Math.min(
    ...lines.filter((line) => line.trim()).map((line) => line.length - line.trimStart().length),
  );
  return lines.map((line) => line.slice(indent)).join("\n");
}
