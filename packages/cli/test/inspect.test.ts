import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { inspectModel, loadModel, saveModel } from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SAMPLE_EXTERNAL_DATA, sampleModel } from "../../core/test/inspect/sample-model.js";

// The real CLI runs from packages/cli/dist (and @lathe/core from packages/core/dist), which
// `pnpm test` builds with `tsc -b` before running vitest.
const cliRoot = fileURLToPath(new URL("..", import.meta.url));
const bin = join(cliRoot, "bin/run.js");
const built = existsSync(join(cliRoot, "dist/commands/inspect.js"));
const STACK_FRAME = /^\s+at /m;
const SKIP_REASON = "packages/cli/dist is missing; run `npx tsc -b` first";
if (!built) console.warn(`lathe inspect CLI tests skipped: ${SKIP_REASON}`);

let dir: string;

const tempDir = tempDirs(afterAll);
let file: string;

function lathe(...args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args], { cwd: dir, encoding: "utf8" });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe.skipIf(!built)(`lathe inspect${built ? "" : ` (skipped: ${SKIP_REASON})`}`, () => {
  beforeAll(async () => {
    dir = tempDir("lathe-cli-inspect-");
    file = join(dir, "model.onnx");
    await saveModel(sampleModel(), file, { externalData: SAMPLE_EXTERNAL_DATA });
  });

  it("prints aligned tables", () => {
    const { status, stdout, stderr } = lathe("inspect", "model.onnx");
    expect(stderr).toBe("");
    expect(status).toBe(0);
    const lines = stdout.split("\n");
    expect(lines).toContain(`model          ${file}`);
    expect(lines).toContain("opsets         ai.onnx 21, com.microsoft 1, local 1");
    expect(lines).toContain("  x         float32  [batch, 16]");
    expect(lines).toContain(
      "nodes: 12 (10 in the main graph, 2 in subgraphs); 1 function with 1 node",
    );
    expect(lines).toContain("  ai.onnx        Add           2");
    expect(lines).toContain("  com.microsoft  Gelu          1");
    expect(lines).toContain("parameters: 811 in 6 tensors, 3.3 kB");
    expect(lines).toContain("  initializers  float32        4     801  3.2 kB");
    expect(lines).toContain("  model.onnx.data.1        1  1.0 kB   1.0 kB");
    expect(lines).toContain("  w1    float32  [16, 32]  2.0 kB  external (model.onnx.data)");
    expect(lines).toContain("  two   float32  []           4 B  inline");
  });

  it("--json prints the summary inspectModel makes", async () => {
    const { status, stdout } = lathe("inspect", file, "--json");
    expect(status).toBe(0);
    const expected = inspectModel(await loadModel(file), { file });
    expect(JSON.parse(stdout)).toEqual(expected);
    expect(expected.largestInitializers).toHaveLength(4);
  });

  it("--top limits the largest initializers", () => {
    const json = JSON.parse(lathe("inspect", file, "--json", "--top", "1").stdout);
    expect(json.largestInitializers.map((t: { name: string }) => t.name)).toEqual(["w1"]);
    const human = lathe("inspect", file, "--top", "0").stdout;
    expect(human).not.toContain("largest initializers");
  });

  it("reports a missing file in one line with a hint, without a stack trace", () => {
    const { status, stdout, stderr } = lathe("inspect", "missing.onnx");
    expect(status).toBe(1);
    expect(stdout).toBe("");
    expect(stderr.split("\n")).toEqual([
      "error: missing.onnx: no such file",
      "  hint: check the path; relative paths are resolved from the current directory",
      "",
    ]);
  });

  it("reports a corrupt file in one line with a hint, without a stack trace", async () => {
    await writeFile(
      join(dir, "garbage.onnx"),
      Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) % 256),
    );
    const { status, stderr } = lathe("inspect", "garbage.onnx");
    expect(status).toBe(1);
    const [first, hint, ...rest] = stderr.split("\n");
    expect(first).toMatch(/^error: garbage\.onnx: not an ONNX model: /);
    expect(hint).toMatch(/^ {2}hint: /);
    expect(rest).toEqual([""]);
    expect(stderr).not.toMatch(STACK_FRAME);
  });

  it("reports a truncated file as truncated", async () => {
    const whole = await readFile(file);
    await writeFile(join(dir, "truncated.onnx"), whole.subarray(0, Math.floor(whole.length / 2)));
    const { status, stderr } = lathe("inspect", "truncated.onnx");
    expect(status).toBe(1);
    expect(stderr).toMatch(/^error: truncated\.onnx: the file is truncated or corrupt: /);
    expect(stderr).not.toMatch(STACK_FRAME);
  });

  it("with --json, prints a failure as an error object", () => {
    const { status, stdout } = lathe("inspect", "missing.onnx", "--json");
    expect(status).toBe(1);
    expect(JSON.parse(stdout)).toEqual({
      error: {
        code: "FILE_NOT_FOUND",
        message: "no such file",
        where: "missing.onnx",
        hint: "check the path; relative paths are resolved from the current directory",
      },
    });
  });

  it("lists inspect in --help", () => {
    const { status, stdout } = lathe("--help");
    expect(status).toBe(0);
    expect(stdout).toMatch(/^\s+inspect\s+Summarize an ONNX model/m);
  });
});
