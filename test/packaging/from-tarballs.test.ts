/**
 * The published packages as a user gets them: @lathe/core, the CLI and its built-in plugins are
 * packed (exports maps, `files`, types, bin), installed from the tarballs into a fresh project
 * outside the workspace, and then (1) `lathe plugin new` scaffolds a plugin whose own `npm test`
 * passes, and (2) examples/lathe-plugin-example, packed with `npm pack`, is installed and run
 * from a recipe by the installed `lathe`. Only the npm registry is needed (third-party
 * dependencies; `--prefer-offline` takes them from npm's cache when it has them).
 */
import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createBuilder, DataType, loadModel, saveModel } from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
/** The workspace packages by name, and the CLI with every @lathe package it depends on. */
const workspace = new Map(
  ["packages", "packages/plugins"]
    .flatMap((parent) => readdirSync(join(root, parent)).map((name) => join(parent, name)))
    .filter((dir) => existsSync(join(root, dir, "package.json")))
    .map((dir) => [JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8")).name, dir]),
);
const cliDependencies = Object.keys(
  JSON.parse(readFileSync(join(root, "packages/cli/package.json"), "utf8")).dependencies,
).filter((name) => name.startsWith("@lathe/"));
const PACKAGES = ["@lathe/cli", ...cliDependencies].map((name) => workspace.get(name)!);
const built = PACKAGES.every((p) => existsSync(join(root, p, "dist")));
if (!built)
  console.warn("packaging tests skipped: the packages are not built; run `npx tsc -b` first");

const NPM_INSTALL = ["install", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"];

function run(
  command: string,
  args: readonly string[],
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", env: { ...env, CI: "true" } });
  if (result.status !== 0)
    throw new Error(
      `${command} ${args.join(" ")} (in ${cwd}) exited ${result.status}\n${result.stdout}\n${result.stderr}`,
    );
  return result;
}

let dir: string;
let project: string;
const tempDir = tempDirs(afterAll);

describe.skipIf(!built)("from tarballs, outside the workspace", () => {
  beforeAll(() => {
    dir = tempDir("lathe-packaging-");
    const tarballs = join(dir, "tarballs");
    mkdirSync(tarballs);
    // pnpm pack writes workspace:* dependencies as the versions they are, as publishing does.
    for (const p of PACKAGES)
      run("npx", ["-y", "pnpm@12.4.2", "pack", "--pack-destination", tarballs], join(root, p));
    project = join(dir, "project");
    mkdirSync(project);
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "project", private: true, type: "module" }),
    );
    const files = readdirSync(tarballs).map((f) => join(tarballs, f));
    run("npm", [...NPM_INSTALL, ...files, "typescript@5.9.3", "@types/node@20.19.43"], project);
  }, 600_000);

  it("lathe plugin new scaffolds a plugin whose own npm test passes", () => {
    const lathe = join(project, "node_modules", ".bin", "lathe");
    const created = run(lathe, ["plugin", "new", "demo"], project);
    expect(created.stdout).toContain("created lathe-plugin-demo");
    // The plugin resolves @lathe/core, lathe and tsc from the project above it, as a plugin
    // developed in a monorepo does.
    const tested = run("npm", ["test"], join(project, "lathe-plugin-demo"));
    expect(tested.stdout).toMatch(/# pass 7\n# fail 0/);
  }, 300_000);

  it("the example plugin, packed with npm pack and installed, runs from a recipe", async () => {
    // Inside the project, so its build step finds lathe and tsc there; prepack builds it.
    const example = join(project, "lathe-plugin-example");
    cpSync(join(root, "examples/lathe-plugin-example"), example, {
      recursive: true,
      filter: (path) => !/node_modules|[/\\]dist$/.test(path),
    });
    const tarball = run("npm", ["pack", "--silent"], example).stdout.trim().split("\n").pop()!;
    run("npm", [...NPM_INSTALL, join(example, tarball)], project);
    rmSync(example, { recursive: true, force: true });

    const b = createBuilder({ opset: 17 });
    const x = b.input("x", DataType.FLOAT, [1, 4]);
    const w = b.constant([1, 2, 3, 4, 5, 6, 7, 8], [4, 2], DataType.FLOAT, "w");
    b.output(b.Relu(b.Dropout(b.MatMul(b.Identity(x), w))), "y");
    await saveModel(b.build(), join(project, "model.onnx"));
    writeFileSync(
      join(project, "recipe.yaml"),
      `model: model.onnx
plugins: [lathe-plugin-example]
passes:
  clean:
    use: example/remove-identity
output:
  dir: ./out
`,
    );
    const lathe = join(project, "node_modules", ".bin", "lathe");
    const plugins = JSON.parse(
      run(lathe, ["plugins", "--json", "--recipe", "recipe.yaml"], project).stdout,
    );
    expect(plugins).toContainEqual(
      expect.objectContaining({
        name: "lathe-plugin-example",
        version: "0.1.0",
        source: expect.objectContaining({ kind: "npm", specifier: "lathe-plugin-example" }),
      }),
    );
    run(lathe, ["run", "recipe.yaml"], project);
    const report = JSON.parse(await readFile(join(project, "out", "report.json"), "utf8"));
    expect(JSON.stringify(report)).toContain('"removed":2');
    const model = await loadModel(join(project, "out", "clean", "model.onnx"));
    expect([...model.graph].map((n) => n.opType)).toEqual(["MatMul", "Relu"]);
  }, 300_000);

  it("docs/writing-a-pass.md: its commands work as written", () => {
    const tutorial = readFileSync(join(root, "docs/writing-a-pass.md"), "utf8");
    // `npx lathe` finds the installed CLI as it does in a user's project: on the PATH.
    const env = {
      ...process.env,
      PATH: `${join(project, "node_modules", ".bin")}:${process.env.PATH}`,
    };
    let cwd = project;
    let last = "";
    for (const [, file, language, body] of tutorial.matchAll(
      /(?:`([\w.-]+)`:\n\n)?```(sh|yaml|ts)\n([\s\S]*?)```/g,
    )) {
      if (language === "yaml" && file) writeFileSync(join(cwd, file), body!);
      if (language !== "sh") continue;
      for (const line of body!.split("\n").filter(Boolean)) {
        if (line.startsWith("cd ")) cwd = join(cwd, line.slice(3));
        // The scaffold's dependencies are the project's, installed above it from the tarballs.
        else if (line !== "npm install") {
          const [command, ...args] = line.replace(/^npx /, "").split(" ");
          last = run(command!, args, cwd, env).stdout;
        }
      }
    }
    const plugins = JSON.parse(last) as { name: string; source: { kind: string } }[];
    expect(plugins.find((p) => p.name === "lathe-plugin-strip")?.source.kind).toBe("npm");
    expect(existsSync(join(project, "out", "strip", "model.onnx"))).toBe(true);
  }, 300_000);
});
