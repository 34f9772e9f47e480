/**
 * The TypeScript and JavaScript examples of the documentation run as written: every fenced
 * `ts`/`js` block of README.md and docs/ is written to a file and run with tsx against the
 * workspace's sources, in a folder that holds the files the examples name (model.onnx, a
 * recipe.yaml). A block that cannot run on its own — an excerpt of a plugin package, a test
 * file — says so right above its fence, with the reason, and is listed in FRAGMENTS below, so
 * marking one is a visible decision.
 */
import { spawn } from "node:child_process";
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { saveModel } from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gpt2 } from "../../packages/plugins/zoo/src/index.js";

const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const TSX = join(ROOT, "node_modules", ".bin", "tsx");

/** The marker, on the line right above a fence: `<!-- fragment: why it cannot run alone -->`. */
const FRAGMENT = /^<!-- fragment: (.+) -->$/;

/** Every block marked as a fragment, by file and the first line of its code. */
const FRAGMENTS: readonly string[] = [
  'docs/evaluate.md: import { defineMetric } from "@lathe/core";',
  'docs/plugins.md: import { definePass } from "@lathe/core";',
  'docs/plugins.md: import { PassTester } from "@lathe/core/testing";',
  "docs/writing-a-pass.md: new PassTester(removeIdentity, { describe, it }).run({",
];

interface Example {
  readonly file: string;
  readonly line: number;
  readonly language: string;
  readonly code: string;
  readonly fragment?: string;
}

function markdownFiles(): string[] {
  const files = [join(ROOT, "README.md")];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".md")) files.push(path);
    }
  };
  walk(join(ROOT, "docs"));
  return files;
}

function examples(): Example[] {
  const found: Example[] = [];
  for (const path of markdownFiles()) {
    const lines = readFileSync(path, "utf8").split("\n");
    const file = relative(ROOT, path);
    for (let i = 0; i < lines.length; i++) {
      const open = /^```(\w*)\s*$/.exec(lines[i]!);
      if (!open) continue;
      const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
      const language = open[1]!;
      if (["ts", "typescript", "js", "javascript"].includes(language)) {
        const fragment = FRAGMENT.exec(lines[i - 1] ?? "")?.[1];
        found.push({
          file,
          line: i + 1,
          language,
          code: lines.slice(i + 1, end).join("\n"),
          ...(fragment ? { fragment } : {}),
        });
      }
      i = end;
    }
  }
  return found;
}

const all = examples();
const runnable = all.filter((e) => e.fragment === undefined);
let dir: string;
const tempDir = tempDirs(afterAll);
let tsconfig: string;

/** The workspace packages an example may import, from source (as vitest.config.ts maps them). */
function workspacePaths(): Record<string, string[]> {
  const paths: Record<string, string[]> = {
    "@lathe/core/testing": [join(ROOT, "packages/core/src/testing/index.ts")],
    "@lathe/core": [join(ROOT, "packages/core/src/index.ts")],
    "@lathe/cli": [join(ROOT, "packages/cli/src/index.ts")],
  };
  for (const name of readdirSync(join(ROOT, "packages/plugins")))
    paths[`@lathe/plugin-${name}`] = [join(ROOT, "packages/plugins", name, "src/index.ts")];
  return paths;
}

function runExample(example: Example, index: number): Promise<{ code: number; output: string }> {
  const extension = example.language.startsWith("t") ? "mts" : "mjs";
  const file = join(dir, `example-${index}.${extension}`);
  writeFileSync(file, `${example.code}\nexport {};\n`);
  return new Promise((done, fail) => {
    const child = spawn(TSX, ["--tsconfig", tsconfig, file], { cwd: dir });
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
    });
    child.stderr.on("data", (chunk) => {
      output += chunk;
    });
    child.on("error", fail);
    child.on("close", (code) => done({ code: code ?? -1, output }));
  });
}

describe("the documentation's code examples", () => {
  beforeAll(async () => {
    dir = tempDir("lathe-doc-examples-");
    tsconfig = join(dir, "tsconfig.json");
    writeFileSync(
      tsconfig,
      JSON.stringify({
        compilerOptions: {
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2022",
          paths: workspacePaths(),
        },
      }),
    );
    // The files the examples name: a GPT-2 with GPT-2's vocabulary (docs/runtime.md draws token
    // ids below 50257), as model.onnx, big.onnx and decoder.onnx; a recipe that runs quickly.
    const model = gpt2.build({ ...gpt2.presets.tiny, vocab: 50257 }, { seed: 0 });
    await saveModel(model.components.get("model")!, join(dir, "model.onnx"));
    for (const name of ["big.onnx", "decoder.onnx"])
      copyFileSync(join(dir, "model.onnx"), join(dir, name));
    writeFileSync(
      join(dir, "recipe.yaml"),
      `model: model.onnx
passes:
  int8:
    use: quantize/dynamic-int8
evaluate:
  metrics:
    core/size: {}
output:
  dir: ./out
`,
    );
  }, 120_000);

  it("finds the examples, and the fragments are the listed ones, each with its reason", () => {
    expect(runnable.length).toBeGreaterThan(15);
    const marked = all
      .filter((e) => e.fragment !== undefined)
      .map((e) => `${e.file}: ${e.code.split("\n")[0]}`);
    expect(marked.sort()).toEqual([...FRAGMENTS].sort());
  });

  it.each(
    runnable.map((example, index) => [`${example.file}:${example.line}`, example, index] as const),
  )(
    "%s runs as written",
    async (_name, example, index) => {
      const { code, output } = await runExample(example, index);
      expect(code, output).toBe(0);
    },
    120_000,
  );
});
