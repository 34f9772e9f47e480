export {
  formatDiagnostic,
  type RecipeDiagnostic,
  RecipeError,
  type SourceLocation,
} from "./diagnostic.js";
export type { Environment } from "./interpolate.js";
export { recipeLocation, recipePosition } from "./location.js";
export type { KeyPath, MapEntry, MapNode, RecipeNode, ScalarValue } from "./node.js";
export { type ReadRecipeOptions, type RecipeDocument, readRecipe } from "./read.js";
export { recipeSchema } from "./schema.js";
export * from "./types.js";
export { loadRecipe, validateRecipe } from "./validate.js";
