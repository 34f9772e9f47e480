import { createHash } from "node:crypto";
import { cp, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { RunReport } from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { gpt2 } from "@lathe/plugin-zoo";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { npzBytes, tokenInputs } from "../../../test/helpers/npz.js";
import { isBuilt, lathe, SKIP_REASON, TEST_PLUGIN, yaml } from "./cli-helpers.js";

const built = isBuilt("run");
const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));
let root: string;
const tempDir = tempDirs(afterAll);
beforeAll(async () => {
  root = tempDir("lathe-cli-stale-");
});

async function report(dir: string): Promise<RunReport> {
  return JSON.parse(await readFile(join(dir, "out", "report.json"), "utf8")) as RunReport;
}

const statuses = (r: RunReport) => Object.fromEntries(r.steps.map((s) => [s.id, s.status]));

async function sha256(file: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(file))
    .digest("hex");
}

function run(dir: string) {
  const ran = lathe(["run", "recipe.yaml"], dir);
  expect(ran.status, ran.stderr).toBe(0);
  return ran;
}

describe.skipIf(!built)(`stale cache hits${built ? "" : ` (skipped: ${SKIP_REASON})`}`, () => {
  it("an edited calibration .npz recomputes static-int8 and fidelity", async () => {
    const dir = join(root, "data");
    await mkdir(dir);
    const calibration = (seed: number) =>
      npzBytes(tokenInputs(2, 8, gpt2.presets.tiny.vocab, seed));
    await writeFile(join(dir, "calib.npz"), calibration(1));
    await writeFile(
      join(dir, "recipe.yaml"),
      yaml(
        "model: zoo:gpt2?size=tiny",
        "data:",
        "  calib: { use: npz, options: { path: calib.npz } }",
        "passes:",
        "  int8: { use: quantize/static-int8, options: { calibration: calib } }",
        "evaluate:",
        "  metrics:",
        "    core/fidelity: { samples: 1, data: calib }",
      ),
    );
    run(dir);
    const first = await report(dir);
    const model = join(dir, "out", "int8", "model.onnx");
    const firstModel = await sha256(model);
    expect(statuses(first)).toEqual({ int8: "ran" });

    run(dir);
    const again = await report(dir);
    expect(statuses(again)).toEqual({ int8: "cached" });
    expect(again.evaluation!.candidates[0]!.metrics.fidelity!.cached).toBe(true);

    // The same file, other calibration tokens: new activation ranges, new fidelity inputs.
    await writeFile(join(dir, "calib.npz"), calibration(2));
    run(dir);
    const edited = await report(dir);
    expect(statuses(edited)).toEqual({ int8: "ran" });
    expect(edited.steps[0]!.cacheKey).not.toBe(first.steps[0]!.cacheKey);
    expect(await sha256(model)).not.toBe(firstModel);
    const fidelity = edited.evaluation!.candidates[0]!;
    expect(fidelity.metrics.fidelity!.cached).toBe(false);
    expect(fidelity.values.fidelity!.kl).not.toBe(
      first.evaluation!.candidates[0]!.values.fidelity!.kl,
    );
  });

  it("an edited plugin loaded by path recomputes what it made, and lathe run says why", async () => {
    const dir = join(root, "code");
    const plugin = join(dir, "plugin");
    await mkdir(plugin, { recursive: true });
    await cp(TEST_PLUGIN, plugin, { recursive: true });
    // The copy imports @lathe/core as the repository's test plugin does.
    await symlink(join(repoRoot, "node_modules"), join(plugin, "node_modules"));
    await writeFile(
      join(dir, "recipe.yaml"),
      yaml(
        "model: zoo:llama?size=tiny",
        "plugins: [./plugin]",
        "passes:",
        "  rename: { use: test/rename-nodes }",
        "  triple: { use: test/scale-output, input: rename, options: { factor: 3 } }",
      ),
    );
    run(dir);
    const first = await report(dir);
    expect(statuses(first)).toEqual({ rename: "ran", triple: "ran" });
    const cached = run(dir);
    expect(statuses(await report(dir))).toEqual({ rename: "cached", triple: "cached" });
    expect(cached.stderr).not.toMatch(/running again/);

    // A real change of behaviour, without a version bump.
    const source = join(plugin, "index.js");
    const text = await readFile(source, "utf8");
    // rename-nodes now counts every node twice in its statistics.
    const changed = text.replace("renamed++;", "renamed += 2;");
    expect(changed).not.toBe(text);
    await writeFile(source, changed);
    const edited = run(dir);
    const r = await report(dir);
    expect(statuses(r)).toEqual({ rename: "ran", triple: "ran" });
    const renamed = (s: RunReport["steps"][number]) => Number(s.statistics!["nodes-renamed"]);
    expect(renamed(r.steps[0]!)).toBe(2 * renamed(first.steps[0]!));
    expect(r.steps.map((s) => s.codeChanged)).toEqual([
      ["lathe-plugin-test"],
      ["lathe-plugin-test"],
    ]);
    expect(edited.stderr).toContain(
      "rename: running again: the code of lathe-plugin-test changed since the cached result",
    );
    expect(edited.stderr).toContain(
      "triple: running again: the code of lathe-plugin-test changed since the cached result",
    );
  });
});
