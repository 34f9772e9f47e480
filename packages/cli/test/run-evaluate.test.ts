import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { RunReport } from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isBuilt, lathe, SKIP_REASON, TEST_PLUGIN, yaml } from "./cli-helpers.js";

const built = isBuilt("run");
let dir: string;
const tempDir = tempDirs(afterAll);

describe.skipIf(!built)(
  `lathe run with evaluation${built ? "" : ` (skipped: ${SKIP_REASON})`}`,
  () => {
    beforeAll(async () => {
      dir = tempDir("lathe-cli-run-eval-");
      await writeFile(
        join(dir, "recipe.yaml"),
        yaml(
          "model: zoo:gpt2?size=tiny",
          `plugins: [${JSON.stringify(TEST_PLUGIN)}]`,
          "target: { threads: 1, shapes: { input_ids: [1, 16] } }",
          "passes:",
          "  sharper: { use: test/scale-output, options: { factor: 1.5 } }",
          "  same: { use: test/rename-nodes, input: model }",
          "evaluate:",
          "  metrics:",
          "    core/latency: { warmup: 1, runs: 3, minTimeMs: 0 }",
          "    core/size: {}",
          "    core/fidelity: { samples: 2 }",
          "  constraints: [fidelity.top1 >= 0.98, fidelity.kl <= 0.001]",
          "select: { objective: size.bytes }",
        ),
      );
    });

    it("prints the results table with verdicts and the selected marker", async () => {
      const { status, stdout, stderr } = lathe(["run", "recipe.yaml"], dir);
      expect(stderr).toMatch(/sharper: core\/fidelity measured in/);
      expect(stderr).toMatch(/selected: same \(the smallest size\.bytes/);
      expect(status).toBe(0);
      const lines = stdout.split("\n");
      const header = lines.find((l) => l.includes("verdict"))!;
      expect(header.trim().split(/\s{2,}/)).toEqual([
        "candidate",
        "p50",
        "±",
        "tok/s",
        "size",
        "top1",
        "kl",
        "relL2",
        "verdict",
      ]);
      expect(lines.find((l) => /^\s+model\s/.test(l))).toMatch(/reference$/);
      // Scaling logits keeps every argmax but moves the distribution: the KL constraint rejects it.
      expect(lines.find((l) => /^\s+sharper\s/.test(l))).toMatch(
        /rejected: fidelity\.kl = [\d.e-]+ not <= 0\.001$/,
      );
      expect(lines.find((l) => /^\s+★\s+same\s/.test(l))).toMatch(/accepted$/);
      expect(stdout).toContain("selected model: selected/");
      expect(existsSync(join(dir, "out", "selected", "model.onnx"))).toBe(true);

      const report = JSON.parse(
        await readFile(join(dir, "out", "report.json"), "utf8"),
      ) as RunReport;
      expect(report.evaluation!.selection).toMatchObject({ selected: "same", output: "selected" });
      expect(report.evaluation!.candidates.map((c) => c.accepted)).toEqual([false, true]);
    });

    it("--json prints the report with the evaluation, size and fidelity from the cache", () => {
      const { status, stdout } = lathe(["run", "recipe.yaml", "--json"], dir);
      expect(status).toBe(0);
      const report = JSON.parse(stdout) as RunReport;
      const same = report.evaluation!.candidates[1]!;
      expect(same.metrics.size!.cached).toBe(true);
      expect(same.metrics.fidelity!.cached).toBe(true);
      expect(same.metrics.latency!.cached).toBe(false);
    });
  },
);
