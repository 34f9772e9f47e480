/**
 * What a schema cannot say: which ids exist (passes, data sources, metrics, model sources,
 * steps), how steps connect, and which keys exclude each other. Each check reads the recipe
 * defensively: a value of the wrong type was already reported by the schema and is skipped here.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { ConstraintSyntaxError, parseConstraint } from "../evaluate/constraints.js";
import type { PluginRegistry } from "../plugin/registry.js";
import { closestMatch } from "../suggest.js";
import type { KeyPath } from "./node.js";
import { isPluginPath, modelSourceScheme } from "./paths.js";
import { inputCycles, RECIPE_INPUT, stepSources } from "./steps.js";
import type { Problem } from "./translate.js";

type Json = Record<string, unknown>;

export function checkRecipe(recipe: Json, registry: PluginRegistry, dir: string): Problem[] {
  return [
    ...checkInput(recipe, registry),
    ...checkPlugins(recipe, registry, dir),
    ...checkSteps(recipe, registry),
    ...checkData(recipe, registry),
    ...checkEvaluation(recipe, registry),
  ];
}

function checkInput(recipe: Json, registry: PluginRegistry): Problem[] {
  const hasModel = "model" in recipe;
  const hasBundle = "bundle" in recipe;
  if (hasModel && hasBundle) {
    return [
      {
        path: ["bundle"],
        message: "give either model: or bundle:, not both",
        hint: "model: is one model (a file or a model source); bundle: names several components",
      },
    ];
  }
  if (!hasModel && !hasBundle) {
    return [
      {
        path: [],
        message: "the recipe names no model to optimize",
        hint: "add model: ./model.onnx (or a model source such as zoo:gpt2), or bundle: with named components",
      },
    ];
  }
  const sources: [KeyPath, unknown][] = hasModel
    ? [[["model"], recipe.model]]
    : isMap(recipe.bundle)
      ? Object.entries(recipe.bundle).map(([name, value]) => [["bundle", name], value])
      : [];
  return sources.flatMap(([path, value]) =>
    typeof value === "string" ? checkModelSource(path, value, registry) : [],
  );
}

function checkModelSource(path: KeyPath, value: string, registry: PluginRegistry): Problem[] {
  const scheme = modelSourceScheme(value);
  if (scheme === undefined || registry.modelSources.has(scheme)) return [];
  const known = [...registry.modelSources.keys()];
  return [
    {
      path,
      message: `unknown model source "${scheme}:" in ${JSON.stringify(value)}`,
      hint:
        suggest(scheme, known, "model sources") ?? `no loaded plugin provides it; ${PLUGIN_HINT}`,
    },
  ];
}

/** The folder under output.dir where the selected candidate is copied (pipeline/run.ts). */
const SELECTED_OUTPUT = "selected";

const PLUGIN_HINT = "the plugin that provides it must be listed under plugins:";

function checkPlugins(recipe: Json, registry: PluginRegistry, dir: string): Problem[] {
  if (!Array.isArray(recipe.plugins)) return [];
  const loaded = registry.plugins.map((plugin) => plugin.meta.name);
  return recipe.plugins.flatMap((entry, i): Problem[] => {
    if (typeof entry !== "string") return [];
    if (isPluginPath(entry)) {
      const path = resolve(dir, entry);
      return existsSync(path)
        ? []
        : [
            {
              path: ["plugins", i],
              message: `no plugin at ${entry} (${path} does not exist)`,
              hint: "plugin paths are relative to the recipe file",
            },
          ];
    }
    if (loaded.includes(entry)) return [];
    const suggestion = closestMatch(entry, loaded);
    return [
      {
        path: ["plugins", i],
        message: `the plugin "${entry}" is not loaded`,
        hint: suggestion
          ? `did you mean "${suggestion}"?`
          : `install it where the recipe is (npm install ${entry}), or remove it from plugins:`,
      },
    ];
  });
}

function checkSteps(recipe: Json, registry: PluginRegistry): Problem[] {
  const passes = recipe.passes;
  if (!isMap(passes)) return [];
  const steps = Object.entries(passes).filter((entry): entry is [string, Json] => isMap(entry[1]));
  const ids = steps.map(([id]) => id);
  const problems: Problem[] = [];
  for (const [id, step] of steps) {
    if (id === RECIPE_INPUT) {
      problems.push({
        path: ["passes", id],
        message: `"${RECIPE_INPUT}" cannot be a step id: input: ${RECIPE_INPUT} means the recipe's model`,
        hint: "rename the step",
      });
    }
    if (id === SELECTED_OUTPUT) {
      problems.push({
        path: ["passes", id],
        message: `"${SELECTED_OUTPUT}" cannot be a step id: output.dir/${SELECTED_OUTPUT} holds the selected candidate`,
        hint: "rename the step",
      });
    }
    if (typeof step.use === "string" && !registry.passes.has(step.use)) {
      problems.push(unknownId(["passes", id, "use"], "pass", step.use, registry.passes));
    }
    const input = step.input;
    if (typeof input !== "string" || input === RECIPE_INPUT || ids.includes(input)) continue;
    const suggestion = closestMatch(
      input,
      ids.filter((other) => other !== id),
    );
    problems.push({
      path: ["passes", id, "input"],
      message: `no step "${input}" to read from`,
      hint: suggestion
        ? `did you mean "${suggestion}"?`
        : `name one of the steps (${ids.join(", ")}) or "${RECIPE_INPUT}" for the recipe's model`,
    });
  }
  // A step called "model" is already reported; as a source it would read itself.
  const linked = steps.filter(([id]) => id !== RECIPE_INPUT);
  const sources = stepSources(
    Object.fromEntries(linked.map(([id, step]) => [id, { input: inputOf(step) }])),
  );
  for (const cycle of inputCycles(sources)) {
    const explicit = cycle.find((id) => typeof passes[id] === "object" && inputOf(passes[id]));
    const path = ["passes", explicit ?? cycle[0]!, "input"];
    problems.push(
      cycle.length === 1
        ? { path, message: "a step cannot read its own output", hint: HINT_CYCLE }
        : {
            path,
            message: `steps read each other in a cycle: ${cycle
              .map((id, i) => `${id} reads ${cycle[(i + 1) % cycle.length]}`)
              .join(", ")}`,
            hint: HINT_CYCLE,
          },
    );
  }
  return problems;
}

const HINT_CYCLE = `point input: at an earlier step, or at "${RECIPE_INPUT}" for the recipe's model`;

function inputOf(step: unknown): string | undefined {
  const input = (step as Json).input;
  return typeof input === "string" ? input : undefined;
}

function checkData(recipe: Json, registry: PluginRegistry): Problem[] {
  if (!isMap(recipe.data)) return [];
  const data = recipe.data;
  const unknown = Object.entries(data).flatMap(([name, spec]) =>
    isMap(spec) && typeof spec.use === "string" && !registry.dataSources.has(spec.use)
      ? [unknownId(["data", name, "use"], "data source", spec.use, registry.dataSources)]
      : [],
  );
  return [...unknown, ...checkSplits(data)];
}

/** Split parts are data set names: each unique, and at most one `rest` per split. */
function checkSplits(data: Json): Problem[] {
  const problems: Problem[] = [];
  const owner = new Map<string, string>();
  for (const [name, spec] of Object.entries(data)) {
    const split = isMap(spec) && isMap(spec.split) ? spec.split : undefined;
    if (!split || !isMap(split.parts)) continue;
    const parts = Object.entries(split.parts);
    for (const [part] of parts) {
      const path: KeyPath = ["data", name, "split", "parts", part];
      const other = Object.hasOwn(data, part) ? `the data set "${part}"` : owner.get(part);
      if (other)
        problems.push({
          path,
          message: `part "${part}" has the name of ${other}; a part's name is a data set name`,
          hint: "give the part a name no data set or other part has",
        });
      else owner.set(part, `a part of "${name}"'s split`);
    }
    const rests = parts.filter(([, size]) => size === "rest");
    if (rests.length > 1)
      problems.push({
        path: ["data", name, "split", "parts", rests[1]![0]],
        message: `${rests.length} parts are "rest"; at most one part takes what the others leave`,
        hint: "give the other parts a count or a fraction",
      });
  }
  return problems;
}

function checkEvaluation(recipe: Json, registry: PluginRegistry): Problem[] {
  const evaluate = isMap(recipe.evaluate) ? recipe.evaluate : {};
  const metrics = isMap(evaluate.metrics) ? Object.keys(evaluate.metrics) : [];
  const problems = metrics
    .filter((id) => !registry.metrics.has(id))
    .map((id) => unknownId(["evaluate", "metrics", id], "metric", id, registry.metrics));
  // Constraints and objectives name a metric by the last part of its id: `latency.p50`.
  const names = metrics.map((id) => id.slice(id.lastIndexOf("/") + 1));
  const references: [KeyPath, unknown][] = [];
  if (Array.isArray(evaluate.constraints)) {
    evaluate.constraints.forEach((c, i) => {
      references.push([["evaluate", "constraints", i], c]);
    });
  }
  const select = isMap(recipe.select) ? recipe.select : {};
  references.push([["select", "objective"], select.objective]);
  if (Array.isArray(select.pareto)) {
    select.pareto.forEach((p, i) => {
      references.push([["select", "pareto", i], p]);
    });
  }
  if (Array.isArray(evaluate.constraints)) {
    evaluate.constraints.forEach((c, i) => {
      if (typeof c !== "string") return;
      try {
        parseConstraint(c);
      } catch (error) {
        if (!(error instanceof ConstraintSyntaxError)) throw error;
        problems.push({
          path: ["evaluate", "constraints", i],
          message: `constraint ${JSON.stringify(c)}: ${error.message} (at character ${error.column + 1})`,
          hint: "write `<metric>.<value> <op> <number>`, e.g. `fidelity.top1 >= 0.98` or `latency.p50 <= 0.5 * reference`",
        });
      }
    });
  }
  const byName = new Map(
    metrics.flatMap((id) => {
      const metric = registry.metrics.get(id)?.definition;
      return metric ? [[id.slice(id.lastIndexOf("/") + 1), metric] as const] : [];
    }),
  );
  for (const [path, text] of references) {
    const match = typeof text === "string" ? /^\s*([A-Za-z_][\w-]*)\.([\w.-]+)/.exec(text) : null;
    const name = match?.[1];
    if (name === undefined) continue;
    if (names.includes(name)) {
      const known = byName.get(name)?.values;
      const key = match![2]!;
      // A prefixed key (`logits.kl`) is per output or component: known only after measuring.
      if (known && !key.includes(".") && !(key in known)) {
        const suggestion = closestMatch(key, Object.keys(known));
        problems.push({
          path,
          message: `the metric "${name}" has no value "${key}"`,
          hint: suggestion
            ? `did you mean "${name}.${suggestion}"?`
            : `its values: ${Object.keys(known).join(", ")}`,
        });
      }
      continue;
    }
    const suggestion = closestMatch(name, names);
    problems.push({
      path,
      message: `refers to the metric "${name}", which evaluate.metrics does not list`,
      hint: suggestion
        ? `did you mean "${suggestion}"?`
        : `add the metric under evaluate.metrics${metrics.length ? ` (listed: ${metrics.join(", ")})` : ""}`,
    });
  }
  if ("objective" in select && "pareto" in select) {
    problems.push({
      path: ["select", "pareto"],
      message: "give either objective: or pareto:, not both",
      hint: "objective: picks one winner; pareto: keeps every candidate on the front of two values",
    });
  }
  return problems;
}

function unknownId(
  path: KeyPath,
  kind: string,
  id: string,
  known: ReadonlyMap<string, unknown>,
): Problem {
  const ids = [...known.keys()];
  const suggestion = closestId(id, ids);
  return {
    path,
    message: `unknown ${kind} "${id}"`,
    hint:
      (suggestion && `did you mean "${suggestion}"?`) ??
      suggest(id, ids, PLURALS[kind] ?? kind) ??
      `no loaded plugin provides it: add its plugin to plugins: (\`lathe plugins\` lists the loaded ones)`,
  };
}

/** The closest id, also when only the name after the namespace is given or misspelled. */
function closestId(id: string, ids: readonly string[]): string | undefined {
  const direct = closestMatch(id, ids);
  if (direct) return direct;
  const name = id.slice(id.lastIndexOf("/") + 1);
  const byName = closestMatch(
    name,
    ids.map((known) => known.slice(known.lastIndexOf("/") + 1)),
  );
  return byName && ids.find((known) => known.endsWith(`/${byName}`) || known === byName);
}

const PLURALS: Record<string, string> = {
  pass: "passes",
  "data source": "data sources",
  metric: "metrics",
};

/** "did you mean" the closest, else the list of known ids when it is short. */
function suggest(word: string, known: readonly string[], what: string): string | undefined {
  const suggestion = closestMatch(word, known);
  if (suggestion) return `did you mean "${suggestion}"?`;
  if (known.length > 0 && known.length <= 12)
    return `known ${what}: ${[...known].sort().join(", ")}`;
  return undefined;
}

function isMap(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
