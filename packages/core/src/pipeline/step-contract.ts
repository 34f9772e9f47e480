/** What the engine checks around a pass: its declared requirements before, its result after. */
import type { ModelBundle } from "../bundle.js";
import { type VerifyLevel, verifyBundle } from "../check/verify.js";
import { errors } from "../diagnostics.js";
import type { PassDefinition, PassResult, Plugin } from "../plugin/types.js";
import { settleOpsetImports } from "./opsets.js";
import type { PlannedStep } from "./plan.js";

/** `where`: the step's place in the recipe. */
export function checkRequirements(step: PlannedStep, bundle: ModelBundle, where: string): void {
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
  // requires.minOpset: min-opset.ts (an older input is converted first where that is exact).
}

/** The op domains and versions a bundle imports, read before a pass runs on it. */
export function opsetImportsOf(bundle: ModelBundle): Map<string, number> {
  const inherited = new Map<string, number>();
  for (const model of bundle.components.values()) {
    for (const [domain, version] of model.opsetImports) inherited.set(domain, version);
  }
  return inherited;
}

/**
 * What the engine checks after every pass, before anything is stored: the result has the
 * contract's shape (`{ bundle, modified }`; anything else is its author's bug), and every op
 * domain the output uses was imported by the input or declared in `introduces` (and is
 * imported now). The pass tester (`@lathe/core/testing`) runs the same, so a pass that passes
 * its tests cannot fail these in a recipe.
 */
export function checkPassOutput(
  result: unknown,
  inherited: ReadonlyMap<string, number>,
  pass: PassDefinition,
  plugin: Plugin,
): asserts result is PassResult {
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
      plugin.meta.name,
      `pass ${pass.id}`,
      "returned something other than { bundle: { components: Map, metadata }, modified: boolean, statistics? }",
      "return the new bundle from run(), e.g. { bundle, modified: true, statistics: { ... } }",
    );
  }
  settleOpsetImports(inherited, (result as PassResult).bundle, pass, plugin);
}

/**
 * The engine never stores or writes an invalid model: after every pass its output is checked
 * (`checkModel`) and, at level `load`, opened in an ONNX Runtime session (not above the size
 * limit: `note` says so). The first failure is a PASS_OUTPUT_INVALID naming the plugin, the
 * pass, the component and the finding.
 */
export async function verifyPassOutput(
  bundle: ModelBundle,
  level: VerifyLevel,
  passId: string,
  /** `name@version`, for the message. */
  plugin: string,
  where: string,
  note: (message: string) => void,
  loadLimitBytes?: number,
): Promise<void> {
  if (level === "none") return;
  const results = await verifyBundle(bundle, {
    level,
    ...(loadLimitBytes === undefined ? {} : { loadLimitBytes }),
  });
  for (const result of results) {
    if (result.failure) {
      throw errors.passOutputInvalid(
        where,
        passId,
        plugin,
        result.component,
        result.failure.message,
        result.failure.hint,
      );
    }
    if (level === "load" && !result.loaded && result.loadSkipped)
      note(
        `verify: component "${result.component}" checked but not loaded in ONNX Runtime: ${result.loadSkipped}`,
      );
  }
}
