/**
 * Stage three of a run: the candidates' folders in `output.dir`, linked to their cache entries
 * (hard links; a reflink or a copy only where linking is impossible), so writing a candidate
 * out costs no model save. With no enabled step, the input itself is the one candidate.
 */
import { join } from "node:path";
import { RECIPE_INPUT } from "../recipe/steps.js";
import { ARTIFACT_META } from "./artifact-cache.js";
import type { ExecutedSteps } from "./execute.js";
import type { InputArtifact } from "./input.js";
import { linkFiles } from "./link-files.js";
import { replaceFolder } from "./replace-folder.js";
import type { RunPlan } from "./run-plan.js";
import { linkInputInto } from "./stored-input.js";

export interface PublishedCandidate {
  /** The step id, or "model" for the input written as the baseline. */
  readonly step: string;
  /** The folder, relative to `output.dir` (as report.json names it). */
  readonly output: string;
  /** The folder's absolute path. */
  readonly path: string;
  /** What names its content: the step's cache key, or the input's digest. */
  readonly digest: string;
}

export async function publishCandidates(
  plan: RunPlan,
  input: InputArtifact,
  executed: ExecutedSteps,
): Promise<PublishedCandidate[]> {
  const published: PublishedCandidate[] = [];
  for (const step of plan.targets) {
    const key = executed.keys.get(step)!;
    const path = join(plan.outputDir, step);
    await replaceFolder(path, async (temp) => {
      await linkFiles(plan.cache.path(key), temp, (name) => name !== ARTIFACT_META);
    });
    plan.emit({ type: "output", step, path });
    published.push({ step, output: step, path, digest: key });
  }
  if (plan.targets.length === 0) {
    const path = join(plan.outputDir, RECIPE_INPUT);
    await replaceFolder(path, async (temp) => {
      await linkInputInto(input, plan, temp);
    });
    plan.emit({ type: "output", step: RECIPE_INPUT, path });
    published.push({ step: RECIPE_INPUT, output: RECIPE_INPUT, path, digest: input.digest });
  }
  return published;
}
