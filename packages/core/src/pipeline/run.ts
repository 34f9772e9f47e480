/**
 * A run, stage by stage, each handing the next what it produced:
 * plan (run-plan.ts) → execute steps (execute.ts) → publish candidates (publish.ts) →
 * evaluate (evaluate-step.ts) → select (select-output.ts) → report (report.ts).
 */
import { join } from "node:path";
import { evaluateStep, evaluationWanted } from "./evaluate-step.js";
import { executeSteps } from "./execute.js";
import { type InputArtifact, openRecipeInput, sha256File } from "./input.js";
import type { PassGraph } from "./plan.js";
import { type PublishedCandidate, publishCandidates } from "./publish.js";
import { buildRunReport, type EvaluationReport, type RunReport, writeReport } from "./report.js";
import { planRun, type RunOptions, type RunPlan } from "./run-plan.js";
import { publishSelection } from "./select-output.js";
import { StepRecord } from "./step-record.js";
import { storedInput } from "./stored-input.js";

export type { RunOptions } from "./run-plan.js";
export { SELECTED } from "./select-output.js";

export interface RunResult {
  readonly report: RunReport;
  readonly reportPath: string;
  /** Candidate step id → the folder its output bundle was written to. */
  readonly outputs: Readonly<Record<string, string>>;
  /** The folder holding the selected candidate, when evaluation selected one. */
  readonly selected?: string;
}

/**
 * Runs a planned recipe: steps in order, each output stored in the artifact cache under a key
 * derived from its input, pass, plugin version, options and seed (a hit skips the pass), the
 * candidates linked into `output.dir`, evaluated and selected, and `report.json` beside them —
 * also when a step fails or the run is interrupted, in which case this throws after writing it.
 */
export async function runPipeline(graph: PassGraph, options: RunOptions = {}): Promise<RunResult> {
  const plan = planRun(graph, options);
  const startedAt = new Date();
  const startedMs = performance.now();
  const recipeSha = await sha256File(graph.recipe.file);
  const record = new StepRecord(graph, plan.emit);
  let input: InputArtifact | undefined;
  let candidates: PublishedCandidate[] = [];
  let evaluation: EvaluationReport | undefined;
  let thrown: unknown;
  try {
    await plan.cache.removeAbandoned();
    input = await openRecipeInput(graph.recipe, graph.registry, plan.signal);
    const executed = await executeSteps(plan, input, record);
    candidates = await publishCandidates(plan, input, executed);
    if (evaluationWanted(graph.recipe))
      evaluation = await evaluate(plan, input, candidates, (step) => record.warnings(step));
  } catch (error) {
    thrown = error;
  }
  const report = buildRunReport({
    plan,
    recipeSha,
    startedAt,
    durationMs: performance.now() - startedMs,
    input,
    steps: record.close(),
    candidates,
    evaluation,
    thrown,
    failed: record.failed,
  });
  await writeReport(plan.reportPath, report);
  if (thrown !== undefined) throw thrown;
  const selected = report.evaluation?.selection.output;
  return {
    report,
    reportPath: plan.reportPath,
    outputs: Object.fromEntries(candidates.map((c) => [c.step, c.path])),
    ...(selected === undefined ? {} : { selected: join(plan.outputDir, selected) }),
  };
}

/** Evaluates the published candidates against the input, then writes the selected one. */
async function evaluate(
  plan: RunPlan,
  input: InputArtifact,
  candidates: readonly PublishedCandidate[],
  warningsOf: (step: string) => readonly string[],
): Promise<EvaluationReport> {
  const { report, result } = await evaluateStep({
    recipe: plan.graph.recipe,
    registry: plan.graph.registry,
    input,
    referencePath: await storedInput(input, plan),
    candidates,
    warningsOf,
    cacheDir: plan.cache.dir,
    outputDir: plan.outputDir,
    sessions: plan.sessions,
    signal: plan.signal,
    noCache: plan.noCache,
    emit: plan.emit,
    keys: plan.keys,
  });
  const output = await publishSelection(plan, result.selection, candidates);
  return output === undefined ? report : { ...report, selection: { ...report.selection, output } };
}
