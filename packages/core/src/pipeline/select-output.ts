/**
 * Stage five of a run: the selected candidate's folder, `selected/` in `output.dir`, linked to
 * the candidate's files; removed when this run selected none, so it never claims an old choice.
 */
import { join } from "node:path";
import type { Selection } from "../evaluate/select.js";
import { linkFiles } from "./link-files.js";
import type { PublishedCandidate } from "./publish.js";
import { removeWrittenFolder, replaceFolder } from "./replace-folder.js";
import type { RunPlan } from "./run-plan.js";

/** The folder under output.dir that holds the selected candidate. */
export const SELECTED = "selected";

/** Writes or clears `selected/`; returns its name relative to `output.dir` when written. */
export async function publishSelection(
  plan: RunPlan,
  selection: Selection,
  candidates: readonly PublishedCandidate[],
): Promise<string | undefined> {
  const folder = join(plan.outputDir, SELECTED);
  const chosen = selection.kind === "objective" ? selection.selected : undefined;
  if (chosen === undefined) {
    await removeWrittenFolder(folder);
  } else {
    const from = candidates.find((c) => c.step === chosen)!.path;
    await replaceFolder(folder, async (temp) => {
      await linkFiles(from, temp);
    });
  }
  plan.emit({
    type: "selected",
    steps: chosen !== undefined ? [chosen] : selection.kind === "pareto" ? selection.front : [],
    reason: selection.reason,
    ...(chosen === undefined ? {} : { path: folder }),
  });
  return chosen === undefined ? undefined : SELECTED;
}
