/**
 * Every example recipe in recipes/ runs end to end through the real CLI, as a user runs it:
 * passes, evaluation on ONNX Runtime, constraints and selection. Each recipe is copied into a
 * temporary folder so its output and cache stay out of the repository.
 */
import { copyFile, mkdtemp, readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { RunReport } from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isBuilt, lathe, SKIP_REASON } from "../../packages/cli/test/cli-helpers.js";
import { ocrModel, taskData } from "../models/real-models.js";

const recipesDir = fileURLToPath(new URL("../../recipes", import.meta.url));
const recipes = (await readdir(recipesDir)).filter((f) => f.endsWith(".yaml")).sort();
const built = isBuilt("run");

// Recipes on the real trained recognizer (test/models) read it and its rendered lines from the
// environment; without them (package or Pillow missing) they are skipped with the reason.
const needsOcr = (file: string) => file.startsWith("ocr-");
const ocr = recipes.some(needsOcr) ? ocrModel() : "no recipe needs it";
const ocrLines = typeof ocr === "string" ? ocr : taskData("text");
if (typeof ocr !== "string" && typeof ocrLines !== "string") {
  process.env.LATHE_OCR_ASSETS = dirname(ocr.path);
  process.env.LATHE_OCR_LINES = ocrLines.folder;
}
const ocrMissing = [ocr, ocrLines].find((r): r is string => typeof r === "string");
const runnable = recipes.filter((file) => !needsOcr(file) || !ocrMissing);
let dir: string;
const tempDir = tempDirs(afterAll);

describe.skipIf(!built)(`example recipes${built ? "" : ` (skipped: ${SKIP_REASON})`}`, () => {
  beforeAll(async () => {
    dir = tempDir("lathe-recipes-");
  });

  for (const file of recipes.filter((f) => !runnable.includes(f)))
    it.skip(`${file}: ${ocrMissing}`, () => {});

  it.each(runnable)("%s runs end to end", { timeout: 240_000 }, async (file) => {
    const work = await mkdtemp(join(dir, `${file.replace(/\.yaml$/, "")}-`));
    await copyFile(join(recipesDir, file), join(work, file));
    const text = await readFile(join(recipesDir, file), "utf8");
    // output: { dir: ... } as the example recipes write it (block style)
    const outputDir = join(work, /^output:\s*\n\s+dir:\s*(\S+)/m.exec(text)?.[1] ?? "out");

    const { status, stderr } = lathe(["run", file], work);
    expect(stderr, stderr).not.toMatch(/^error:/m);
    expect(status, stderr).toBe(0);

    const report = JSON.parse(await readFile(join(outputDir, "report.json"), "utf8")) as RunReport;
    expect(report.status).toBe("ok");
    for (const step of report.steps.filter((s) => s.reason !== "disabled")) {
      expect(step.status, `step ${step.id}`).toBe("ran");
      expect(step.modified, `step ${step.id} changed the model`).toBe(true);
    }
    if (!/^evaluate:/m.test(text)) return;

    // Every candidate was measured, judged against the constraints, and one was selected.
    const evaluation = report.evaluation!;
    expect(evaluation.candidates.map((c) => c.step).sort()).toEqual(
      report.candidates.map((c) => c.step).sort(),
    );
    for (const candidate of evaluation.candidates) {
      for (const [metric, outcome] of Object.entries(candidate.metrics)) {
        expect(outcome.error, `${candidate.step} ${metric}`).toBeUndefined();
      }
      expect(candidate.checks.length).toBeGreaterThan(0);
      expect(candidate.accepted).toBe(candidate.checks.every((c) => c.passed));
    }
    const selected =
      evaluation.selection.kind === "objective"
        ? evaluation.selection.selected
        : evaluation.selection.kind === "pareto"
          ? evaluation.selection.front[0]
          : undefined;
    expect(selected, evaluation.selection.reason).toBeDefined();
    expect(evaluation.candidates.find((c) => c.step === selected)?.accepted).toBe(true);
  });
});
