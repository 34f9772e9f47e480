import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isBuilt, lathe, SKIP_REASON, TEST_PLUGIN, yaml } from "./cli-helpers.js";

const built = isBuilt("plan");
let dir: string;
const tempDir = tempDirs(afterAll);

describe.skipIf(!built)(`lathe plan${built ? "" : ` (skipped: ${SKIP_REASON})`}`, () => {
  beforeAll(async () => {
    dir = tempDir("lathe-cli-plan-");
    await writeFile(
      join(dir, "branches.yaml"),
      yaml(
        "model: zoo:llama?size=tiny",
        `plugins: [${TEST_PLUGIN}]`,
        "passes:",
        "  rename: { use: test/rename-nodes }",
        "  triple: { use: test/scale-output, options: { factor: 3 } }",
        "  gelu: { use: test/add-contrib-gelu, input: rename }",
        "  raw: { use: test/scale-output, input: model, enabled: false }",
      ),
    );
    await writeFile(
      join(dir, "cycle.yaml"),
      yaml(
        "model: zoo:llama?size=tiny",
        `plugins: [${TEST_PLUGIN}]`,
        "passes:",
        "  a: { use: test/rename-nodes, input: b }",
        "  b: { use: test/scale-output }",
      ),
    );
  });

  it("prints the tree, with defaults filled in", () => {
    const { status, stdout, stderr } = lathe(["plan", "branches.yaml"], dir);
    expect(stderr).toBe("");
    expect(status).toBe(0);
    expect(stdout).toBe(
      yaml(
        "zoo:llama?size=tiny  (reference)",
        "└─ rename  test/rename-nodes  prefix=renamed/",
        "   ├─ triple  test/scale-output  factor=3  → candidate",
        "   └─ gelu  test/add-contrib-gelu  → candidate",
        "disabled: raw  test/scale-output  (reads model)",
      ),
    );
  });

  it("--format mermaid prints a flowchart", () => {
    const { status, stdout } = lathe(["plan", "branches.yaml", "--format", "mermaid"], dir);
    expect(status).toBe(0);
    expect(stdout.split("\n").slice(0, 2)).toEqual([
      "flowchart TD",
      '  input["zoo:llama?size=tiny<br/>(reference)"]',
    ]);
    expect(stdout).toContain("  s0 --> s1\n  s0 --> s2\n");
  });

  it("--format json prints plain data", () => {
    const { status, stdout } = lathe(["plan", "branches.yaml", "--format", "json"], dir);
    expect(status).toBe(0);
    const plan = JSON.parse(stdout);
    expect(plan.candidates).toEqual(["triple", "gelu"]);
    expect(plan.disabled).toEqual([{ id: "raw", pass: "test/scale-output", input: "model" }]);
    expect(plan.steps[1]).toEqual({
      id: "triple",
      pass: "test/scale-output",
      plugin: "lathe-plugin-test@1.0.0",
      input: "rename",
      options: { factor: 3 },
      candidate: true,
    });
  });

  it("an invalid recipe: exit 2 and where the problem is", () => {
    const { status, stdout, stderr } = lathe(["plan", "cycle.yaml"], dir);
    expect(stdout).toBe("");
    expect(status).toBe(2);
    expect(stderr).toContain("cycle.yaml:4:");
    expect(stderr).toMatch(/cycle/);
  });
});
