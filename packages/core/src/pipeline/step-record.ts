import { RECIPE_INPUT } from "../recipe/steps.js";
import type { PipelineEvent, StepStatus } from "./events.js";
import type { PassGraph, PlannedStep } from "./plan.js";
import { type StepReport, stepWarnings } from "./report.js";

/** What each step ended as, told to the caller (`step-end`) as it happens and kept for the report. */
export class StepRecord {
  readonly #reports = new Map<string, StepReport>();
  /** The step that failed and the reproducer written for it. */
  failed: { readonly step: string; readonly reproducer: string } | undefined;

  constructor(
    private readonly graph: PassGraph,
    private readonly emit: (event: PipelineEvent) => void,
  ) {}

  finish(step: PlannedStep, status: StepStatus, extra: Partial<StepReport> = {}): void {
    const report: StepReport = {
      id: step.id,
      pass: step.passId,
      plugin: `${step.plugin.meta.name}@${step.plugin.meta.version}`,
      input: step.input ?? RECIPE_INPUT,
      status,
      ...extra,
    };
    this.#reports.set(step.id, report);
    this.emit({
      type: "step-end",
      step: step.id,
      status,
      ...(report.reason ? { reason: report.reason } : {}),
      durationMs: report.durationMs ?? 0,
      ...(report.statistics ? { statistics: report.statistics } : {}),
    });
  }

  /** The `warning` statistics of a step and the steps it read from (see `stepWarnings`). */
  warnings(step: string): string[] {
    return stepWarnings(this.#reports, step);
  }

  fail(step: PlannedStep, extra: Partial<StepReport>, reproducer: string): void {
    this.failed = { step: step.id, reproducer };
    this.finish(step, "failed", extra);
  }

  /**
   * Every step in plan order (those the run did not reach marked so, and told), then the
   * disabled ones.
   */
  close(): StepReport[] {
    for (const step of this.graph.steps) {
      if (!this.#reports.has(step.id)) this.finish(step, "skipped", { reason: "not-reached" });
    }
    return [
      ...this.graph.steps.map((s) => this.#reports.get(s.id)!),
      ...this.graph.disabled.map(
        (d): StepReport => ({
          id: d.id,
          pass: d.passId,
          plugin: this.pluginOf(d.passId),
          input: d.input ?? RECIPE_INPUT,
          status: "skipped",
          reason: "disabled",
        }),
      ),
    ];
  }

  private pluginOf(passId: string): string {
    const plugin = this.graph.registry.passes.get(passId)?.plugin;
    return plugin ? `${plugin.meta.name}@${plugin.meta.version}` : "";
  }
}
