import type { EvaluationEvent } from "../evaluate/evaluation.js";
import type { PassStatistics } from "../plugin/types.js";

/** What a step ended as in this run (see docs/pipeline.md). */
export type StepStatus = "ran" | "cached" | "skipped" | "failed" | "interrupted";

/** Why a step was skipped. */
export type SkipReason = "disabled" | "not-needed" | "not-reached";

/** What the engine tells its caller while it runs: the CLI turns these into the progress view. */
export type PipelineEvent =
  | { readonly type: "step-start"; readonly step: string }
  | {
      readonly type: "step-progress";
      readonly step: string;
      readonly done: number;
      readonly total: number;
      readonly label?: string;
    }
  | {
      readonly type: "step-log";
      readonly step: string;
      readonly level: "debug" | "info" | "warn";
      readonly message: string;
    }
  | {
      readonly type: "step-end";
      readonly step: string;
      readonly status: StepStatus;
      readonly reason?: SkipReason;
      readonly durationMs: number;
      readonly statistics?: PassStatistics;
    }
  | { readonly type: "output"; readonly step: string; readonly path: string }
  /** Evaluation: each metric on the reference (`step: "model"`) and on each candidate. */
  | EvaluationEvent
  | {
      readonly type: "selected";
      /** The selected step ids (one for an objective, the front for pareto, none). */
      readonly steps: readonly string[];
      readonly reason: string;
      /** Where the selected model was written (objective selection only). */
      readonly path?: string;
    };
