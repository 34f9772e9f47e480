import type { ModelBundle } from "../bundle.js";
import { storedTensors } from "../inspect/stored-tensors.js";
import type { Model } from "../ir/model.js";
import { openSession } from "../runtime/session.js";
import { checkModel } from "./check-model.js";
import { type CheckFinding, type CheckReport, formatFinding } from "./findings.js";

/**
 * How much to verify a model a pass wrote: `load` runs the checker and opens the model in an
 * ONNX Runtime session (below a size limit), `check` only runs the checker, `none` trusts it.
 */
export type VerifyLevel = "load" | "check" | "none";

export const VERIFY_LEVELS: readonly VerifyLevel[] = ["load", "check", "none"];

/**
 * Models whose stored tensors are larger than this are only checked, not loaded: a session
 * needs the whole model in memory (and encoding it a copy). 1 GiB by default.
 */
export const DEFAULT_VERIFY_LOAD_LIMIT = 1 << 30;

export interface VerifyOptions {
  readonly level: VerifyLevel;
  /** Largest model (bytes of stored tensors) loaded in a session; default DEFAULT_VERIFY_LOAD_LIMIT. */
  readonly loadLimitBytes?: number;
}

export interface ComponentVerification {
  readonly component: string;
  readonly report: CheckReport | undefined;
  /** Whether an ORT session opened the model. */
  readonly loaded: boolean;
  /** Why the model was not loaded (level below `load`, or larger than the limit). */
  readonly loadSkipped?: string;
  /** The first thing wrong: an error finding, or ORT's refusal. Undefined when the model is fine. */
  readonly failure?: {
    readonly finding?: CheckFinding;
    readonly message: string;
    readonly hint: string;
  };
}

/** Verifies every component of a bundle; see `verifyModel`. */
export async function verifyBundle(
  bundle: ModelBundle,
  options: VerifyOptions,
): Promise<ComponentVerification[]> {
  const results: ComponentVerification[] = [];
  for (const [component, model] of bundle.components)
    results.push(await verifyModel(model, component, options));
  return results;
}

/**
 * Checks a model with `checkModel` and, at level `load`, opens it in an ONNX Runtime CPU session
 * with basic graph optimizations (so ORT's own type inference and kernel lookup judge it). Returns
 * the first failure, if any; never throws for an invalid model.
 */
export async function verifyModel(
  model: Model,
  component: string,
  options: VerifyOptions,
): Promise<ComponentVerification> {
  if (options.level === "none")
    return { component, report: undefined, loaded: false, loadSkipped: "verify: none" };
  const report = checkModel(model);
  const error = report.findings.find((f) => f.severity === "error");
  if (error) {
    return {
      component,
      report,
      loaded: false,
      failure: { finding: error, message: formatFinding(error), hint: error.hint },
    };
  }
  if (options.level === "check")
    return { component, report, loaded: false, loadSkipped: "verify: check" };
  const limit = options.loadLimitBytes ?? DEFAULT_VERIFY_LOAD_LIMIT;
  const bytes = storedTensors(model).reduce((sum, t) => sum + t.bytes, 0);
  if (bytes > limit) {
    return {
      component,
      report,
      loaded: false,
      loadSkipped: `its tensors hold ${megabytes(bytes)}, more than the ${megabytes(limit)} loaded for verification`,
    };
  }
  try {
    // "basic", not "disabled": with every optimization off, ORT 1.30's CPU provider refuses
    // valid fp16 models (the casts it inserts around fp32-only kernels do not type-check without
    // its basic cleanups), and no user runs a model that way.
    const session = await openSession(model, { graphOptimizationLevel: "basic" });
    await session.release();
  } catch (cause) {
    const message = (cause instanceof Error ? cause.message : String(cause)).trim();
    return {
      component,
      report,
      loaded: false,
      failure: {
        message: `ONNX Runtime refuses to load it: ${message.split("\n")[0]}`,
        hint: "the checker found nothing, so this is a limit of ONNX Runtime (an op or type without a CPU kernel) or a gap in the checker",
      },
    };
  }
  return { component, report, loaded: true };
}

function megabytes(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
