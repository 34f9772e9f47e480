/**
 * Phase two of loading a recipe: validate it against the schema assembled for the loaded
 * plugins, fill in defaults, run the checks a schema cannot express, and report every problem
 * at once. One ajv instance compiles each registry's schema once.
 */
import { dirname } from "node:path";
import { Ajv, type ValidateFunction } from "ajv";
import { errors } from "../diagnostics.js";
import { isNamePattern } from "../plugin/name-filter.js";
import type { PluginRegistry } from "../plugin/registry.js";
import { checkRecipe } from "./checks.js";
import { type RecipeDiagnostic, RecipeError } from "./diagnostic.js";
import { rememberSources } from "./location.js";
import { formatPath, isWithin, locate, toPlain } from "./node.js";
import { type ReadRecipeOptions, type RecipeDocument, readRecipe } from "./read.js";
import { recipeSchema } from "./schema.js";
import { type Problem, translateErrors } from "./translate.js";
import type { Recipe } from "./types.js";

/** Reads, validates and returns a recipe (both phases, for callers that have their registry). */
export async function loadRecipe(
  file: string,
  registry: PluginRegistry,
  options: ReadRecipeOptions = {},
): Promise<Recipe> {
  return validateRecipe(await readRecipe(file, options), registry);
}

/**
 * The recipe with defaults filled in, frozen. Throws a RecipeError listing every problem, those
 * found while reading included, in file order.
 */
export function validateRecipe(doc: RecipeDocument, registry: PluginRegistry): Recipe {
  const data = toPlain(doc.root) as Record<string, unknown>;
  const validate = validatorFor(registry);
  const schemaProblems = validate(data) ? [] : translateErrors(validate.errors ?? [], data);
  // A value that failed interpolation was reported as such; what it fails besides adds nothing.
  const resolved = (p: Problem) => !doc.unresolved.some((u) => isWithin(p.path, u));
  const checkProblems = checkRecipe(data, registry, dirname(doc.file)).filter(resolved);
  // One message per key: the checks word unknown ids better than an enum error does.
  const claimed = checkProblems.map((p) => formatPath(p.path));
  const kept = schemaProblems.filter((p) => resolved(p) && !claimed.includes(formatPath(p.path)));
  const diagnostics = [
    ...doc.diagnostics,
    ...unique([...kept, ...checkProblems]).map((p) => diagnostic(doc, p)),
  ];
  if (diagnostics.length > 0) throw new RecipeError(doc.file, sortByPosition(diagnostics, doc));
  const { vars: _vars, ...plain } = data;
  const recipe = deepFreeze({ file: doc.file, ...plain }) as unknown as Recipe;
  rememberSources(recipe, doc.root);
  return recipe;
}

let ajv: Ajv | undefined;
const validators = new WeakMap<PluginRegistry, ValidateFunction>();

function validatorFor(registry: PluginRegistry): ValidateFunction {
  const cached = validators.get(registry);
  if (cached) return cached;
  ajv ??= createAjv();
  checkPluginSchemas(ajv, registry);
  const validate = ajv.compile(recipeSchema(registry));
  validators.set(registry, validate);
  return validate;
}

/** The JSON Schema validator recipes and pass options are checked with (defaults filled in). */
export function createAjv(): Ajv {
  const instance = new Ajv({
    allErrors: true,
    useDefaults: true,
    verbose: true,
    // Unknown keywords in a plugin's schema are mistakes worth reporting; type-strictness is not.
    strict: true,
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
  });
  // include/exclude patterns (plugin/name-filter.ts): checked when the recipe loads, with its line.
  instance.addFormat("regex", isNamePattern);
  // Annotations editors understand; they change nothing in validation.
  instance.addVocabulary(["markdownDescription", "enumDescriptions", "deprecationMessage"]);
  return instance;
}

/** Compiles each plugin schema alone first, so a broken one is blamed on its plugin. */
function checkPluginSchemas(ajv: Ajv, registry: PluginRegistry): void {
  const parts = [
    ...[...registry.passes.values()].map((r) => ({ kind: "pass", ...r })),
    ...[...registry.metrics.values()].map((r) => ({ kind: "metric", ...r })),
    ...[...registry.dataSources.values()].map((r) => ({ kind: "data source", ...r })),
  ];
  for (const { kind, definition, plugin } of parts) {
    try {
      ajv.compile(definition.options);
    } catch (error) {
      throw errors.pluginContract(
        plugin.meta.name,
        `the options schema of ${kind} "${definition.id}"`,
        `is not a valid JSON Schema (draft-07): ${(error as Error).message}`,
        "fix the schema: standard keywords only (type, properties, default, enum, minimum, description, …)",
      );
    }
  }
}

function diagnostic(doc: RecipeDocument, problem: Problem): RecipeDiagnostic {
  return {
    ...locate(doc.root, problem.path),
    path: formatPath(problem.path),
    message: problem.message,
    ...(problem.hint ? { hint: problem.hint } : {}),
  };
}

function unique(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${formatPath(p.path)}\n${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The recipe's own file first, then the files it extends; by line and column in each. */
function sortByPosition(diagnostics: RecipeDiagnostic[], doc: RecipeDocument): RecipeDiagnostic[] {
  const rank = (file: string) => {
    const index = doc.files.indexOf(file);
    return index < 0 ? doc.files.length : index;
  };
  return diagnostics
    .map((d, index) => ({ d, index }))
    .sort(
      (a, b) =>
        rank(a.d.file) - rank(b.d.file) ||
        a.d.line - b.d.line ||
        a.d.column - b.d.column ||
        a.index - b.index,
    )
    .map(({ d }) => d);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
