import type { ModelBundle } from "../bundle.js";
import { errors, isLatheError } from "../diagnostics.js";
import { convertOpset, opsetConversionProblems } from "../opset/convert.js";
import type { PassDefinition } from "../plugin/types.js";
import type { PlannedStep } from "./plan.js";

/**
 * Enforces a pass's `requires.minOpset` before it runs. A component whose default-domain
 * opset is older is converted to the required opset first when the conversion is exact and
 * the step allows it (`convertOpset`, on by default), which the step's log says; otherwise the
 * step fails with PASS_REQUIREMENT naming the component, both opsets and why it cannot convert.
 */
export function meetMinOpset(
  step: Pick<PlannedStep, "id" | "passId" | "convertOpset"> & {
    readonly pass: Pick<PassDefinition, "requires">;
  },
  bundle: ModelBundle,
  where: string,
  log: (message: string) => void,
): void {
  const minOpset = step.pass.requires?.minOpset;
  if (minOpset === undefined) return;
  for (const [name, model] of bundle.components) {
    const opset = model.opset("") ?? 0;
    if (opset >= minOpset) continue;
    const needs = `it needs opset ${minOpset} or newer, and component "${name}" imports opset ${opset}`;
    if (!step.convertOpset)
      throw errors.passRequirement(
        where,
        step.id,
        step.passId,
        `${needs}; the step has convertOpset: false (remove it to convert the input first, or run \`lathe convert --opset ${minOpset}\`)`,
      );
    let problems: string[];
    try {
      problems = opsetConversionProblems(model, minOpset).map(
        (p) => `${p.where}: at opset ${p.version}: ${p.reason}`,
      );
    } catch (error) {
      if (!isLatheError(error)) throw error;
      problems = [error.message];
    }
    if (problems.length > 0)
      throw errors.passRequirement(
        where,
        step.id,
        step.passId,
        `${needs}, and converting it is not exact: ${problems.slice(0, 5).join("; ")}${problems.length > 5 ? `; … and ${problems.length - 5} more` : ""}`,
      );
    const conversion = convertOpset(model, minOpset);
    const rewrites = conversion.adapters.map(
      (a) => `${a.adapter} ×${a.nodes} (${a.op}, ${a.version})`,
    );
    log(
      `converted component "${name}" from opset ${opset} to ${minOpset} first, as ${step.passId} requires (exact${rewrites.length > 0 ? `; ${rewrites.join(", ")}` : "; no node needed rewriting"})`,
    );
  }
}
