/**
 * Where a key of a validated recipe is written, for errors raised while the recipe runs (a pass
 * failing, a data set that cannot be read, a metric that cannot measure, a constraint that
 * cannot be judged): `file:line:col path`, as validation reports its problems.
 */
import type { SourceLocation } from "./diagnostic.js";
import { formatPath, type KeyPath, locate, type RecipeNode } from "./node.js";
import type { Recipe } from "./types.js";

/** The parsed tree of each recipe `validateRecipe` returned; a recipe built in code has none. */
const sources = new WeakMap<Recipe, RecipeNode>();

/** Called by validation: the recipe keeps the positions of the tree it was made from. */
export function rememberSources(recipe: Recipe, root: RecipeNode): void {
  sources.set(recipe, root);
}

/** The file, line and column of `path` (or of the nearest key above it that is written). */
export function recipePosition(recipe: Recipe, path: KeyPath): SourceLocation | undefined {
  const root = sources.get(recipe);
  return root && locate(root, path);
}

/**
 * `recipe.yaml:12:5 passes.int4`, for an error's `where`. A recipe built in code, with no
 * positions, gives `recipe.yaml (passes.int4)`.
 */
export function recipeLocation(recipe: Recipe, path: KeyPath): string {
  const at = recipePosition(recipe, path);
  const key = formatPath(path);
  if (!at) return key ? `${recipe.file} (${key})` : recipe.file;
  return `${at.file}:${at.line}:${at.column}${key ? ` ${key}` : ""}`;
}
