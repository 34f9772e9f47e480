import { errors } from "../diagnostics.js";
import type { PluginRegistry } from "../plugin/registry.js";
import type { PassDefinition, Plugin } from "../plugin/types.js";
import { recipeLocation } from "../recipe/location.js";
import { inputCycles, RECIPE_INPUT, stepSources } from "../recipe/steps.js";
import type { Recipe } from "../recipe/types.js";
import { closestMatch } from "../suggest.js";

export interface PlannedStep {
  /** The step's id in the recipe (`int4`). */
  readonly id: string;
  /** The pass it runs (`quantize/weight-only`). */
  readonly passId: string;
  readonly pass: PassDefinition;
  readonly plugin: Plugin;
  readonly options: Readonly<Record<string, unknown>>;
  /** The step whose output this one reads; undefined when it reads the recipe's input. */
  readonly input: string | undefined;
  /** Enabled steps that read this one's output. */
  readonly readers: readonly string[];
  /** Nothing reads it, so its output is a candidate (compared against the input, the reference). */
  readonly candidate: boolean;
  /** Convert an input older than the pass's `requires.minOpset` first, where that is exact. */
  readonly convertOpset: boolean;
}

export interface DisabledStep {
  readonly id: string;
  readonly passId: string;
  /** What the step would read: a step id, or undefined for the recipe's input. */
  readonly input: string | undefined;
}

/** A recipe's steps as a DAG, checked before any model is loaded. */
export interface PassGraph {
  readonly recipe: Recipe;
  readonly registry: PluginRegistry;
  /** Enabled steps, each after the step it reads; otherwise in file order. */
  readonly steps: readonly PlannedStep[];
  readonly disabled: readonly DisabledStep[];
  /** Ids of the candidate steps, in plan order. */
  readonly candidates: readonly string[];
}

/**
 * Builds the pass graph: each step reads the step before it unless `input:` names another
 * (several readers of one step are branches); a step reading a disabled step reads what that
 * one read. Unknown passes, inputs that name no step, and cycles are errors.
 */
export function planRecipe(recipe: Recipe, registry: PluginRegistry): PassGraph {
  const ids = Object.keys(recipe.passes);
  const at = (id: string, key?: string) =>
    recipeLocation(recipe, key === undefined ? ["passes", id] : ["passes", id, key]);
  const spec = (id: string) => recipe.passes[id]!;
  if (ids.includes(RECIPE_INPUT)) {
    throw errors.stepIdReserved(at(RECIPE_INPUT), RECIPE_INPUT);
  }

  const declared = stepSources(recipe.passes);
  for (const [id, input] of declared) {
    if (input === RECIPE_INPUT || input in recipe.passes) continue;
    const close = closestMatch(input, [...ids.filter((other) => other !== id), RECIPE_INPUT]);
    throw errors.stepInputUnknown(
      at(id, "input"),
      id,
      input,
      `${close ? `did you mean "${close}"? ` : ""}input: names a step of this recipe, or "${RECIPE_INPUT}" for the recipe's input`,
    );
  }
  const [cycle] = inputCycles(declared);
  if (cycle) throw errors.stepCycle(at(cycle[0]!, "input"), [...cycle, cycle[0]!]);

  // Reading a disabled step means reading what it read (a switched-off step is a no-op).
  const effectiveInput = (id: string): string | undefined => {
    let input = declared.get(id)!;
    while (input !== RECIPE_INPUT && !spec(input).enabled) input = declared.get(input)!;
    return input === RECIPE_INPUT ? undefined : input;
  };

  const enabled = ids.filter((id) => spec(id).enabled);
  const readers = new Map<string, string[]>(enabled.map((id) => [id, []]));
  for (const id of enabled) {
    const input = effectiveInput(id);
    if (input !== undefined) readers.get(input)!.push(id);
  }
  const steps = topologicalOrder(enabled, effectiveInput).map((id): PlannedStep => {
    const { use, options, convertOpset } = spec(id);
    const registered = registry.passes.get(use);
    if (!registered) {
      const known = [...registry.passes.keys()];
      const close = closestMatch(use, known);
      throw errors.unknownPass(
        at(id, "use"),
        id,
        use,
        close
          ? `did you mean "${close}"?`
          : known.length > 0
            ? `known passes: ${known.join(", ")}; a plugin's passes are listed by \`lathe plugins\``
            : "add the plugin that defines it to the recipe's plugins:",
      );
    }
    const stepReaders = readers.get(id)!;
    return {
      id,
      passId: use,
      pass: registered.definition,
      plugin: registered.plugin,
      options,
      input: effectiveInput(id),
      readers: stepReaders,
      candidate: stepReaders.length === 0,
      convertOpset: convertOpset !== false,
    };
  });
  const disabled = ids
    .filter((id) => !spec(id).enabled)
    .map((id) => {
      const input = declared.get(id)!;
      return { id, passId: spec(id).use, input: input === RECIPE_INPUT ? undefined : input };
    });
  return {
    recipe,
    registry,
    steps,
    disabled,
    candidates: steps.filter((s) => s.candidate).map((s) => s.id),
  };
}

/** Steps in file order, except that a step is moved after the step it reads. */
function topologicalOrder(ids: readonly string[], inputOf: (id: string) => string | undefined) {
  const order: string[] = [];
  const placed = new Set<string>();
  const pending = [...ids];
  while (pending.length > 0) {
    const next = pending.findIndex((id) => {
      const input = inputOf(id);
      return input === undefined || placed.has(input);
    });
    const [id] = pending.splice(next, 1);
    order.push(id!);
    placed.add(id!);
  }
  return order;
}
