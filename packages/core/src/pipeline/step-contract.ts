/** What the engine checks around a pass: its declared requirements before, its result after. */
import type { ModelBundle } from "../bundle.js";
import { errors } from "../diagnostics.js";
import type { PassResult } from "../plugin/types.js";
import type { PlannedStep } from "./plan.js";

export function checkRequirements(step: PlannedStep, bundle: ModelBundle, file: string): void {
  const where = `${file} (passes.${step.id})`;
  const names = [...bundle.components.keys()];
  for (const component of step.pass.requires?.components ?? []) {
    if (!bundle.components.has(component)) {
      throw errors.passRequirement(
        where,
        step.id,
        step.passId,
        `it needs component "${component}", and the input has ${names.join(", ")}`,
      );
    }
  }
  const minOpset = step.pass.requires?.minOpset;
  if (minOpset === undefined) return;
  for (const [name, model] of bundle.components) {
    const opset = model.opset("") ?? 0;
    if (opset < minOpset) {
      throw errors.passRequirement(
        where,
        step.id,
        step.passId,
        `it needs opset ${minOpset} or newer, and component "${name}" imports opset ${opset}`,
      );
    }
  }
}

/** A pass must hand back `{ bundle, modified }`; anything else is its author's bug. */
export function checkResult(result: unknown, step: PlannedStep): asserts result is PassResult {
  const r = result as Partial<PassResult> | undefined;
  const ok =
    typeof r === "object" &&
    r !== null &&
    typeof r.modified === "boolean" &&
    r.bundle?.components instanceof Map &&
    typeof r.bundle.metadata === "object" &&
    (r.statistics === undefined || typeof r.statistics === "object");
  if (!ok) {
    throw errors.pluginContract(
      step.plugin.meta.name,
      `pass ${step.passId}`,
      "returned something other than { bundle: { components: Map, metadata }, modified: boolean, statistics? }",
      "return the new bundle from run(), e.g. { bundle, modified: true, statistics: { ... } }",
    );
  }
}
