/**
 * The recipe's `data:` entries as passes (`ctx.data`) and metrics ask for them. A data set that
 * cannot be read (a missing file, a corrupt archive) fails naming `data.<name>`'s place in the
 * recipe, and what asked for it.
 */
import { dirname, resolve } from "node:path";
import { atRecipeKey, errors } from "../diagnostics.js";
import type { PluginRegistry } from "../plugin/registry.js";
import type { DataRecord, DataSet } from "../plugin/types.js";
import { recipeLocation } from "../recipe/location.js";
import type { KeyPath } from "../recipe/node.js";
import type { Recipe } from "../recipe/types.js";
import { dataNames, splitPart } from "./data-split.js";

export interface DataRequest {
  /** Who asks, for messages: `step "int8" (pass quantize/static-int8)`, `metric core/fidelity`. */
  readonly by: string;
  /** The recipe key of who asks, where an unknown name is reported. */
  readonly at: KeyPath;
}

export function openRecipeData(
  recipe: Recipe,
  registry: PluginRegistry,
  name: string,
  request: DataRequest,
): DataSet {
  const named = dataNames(recipe.data).get(name);
  if (!named) {
    const known = [...dataNames(recipe.data).keys()];
    throw errors.dataUnknown(
      recipeLocation(recipe, request.at),
      name,
      `${request.by} asked for it, but the recipe's data: section has no such entry`,
      known.length > 0 ? `data in this recipe: ${known.join(", ")}` : `add "${name}" under data:`,
    );
  }
  const { entry, spec, part } = named;
  const source = registry.dataSources.get(spec.use);
  if (!source) {
    const known = [...registry.dataSources.keys()];
    throw errors.dataUnknown(
      recipeLocation(recipe, ["data", entry, "use"]),
      entry,
      `uses data source "${spec.use}", which no loaded plugin provides`,
      known.length > 0
        ? `data sources: ${known.join(", ")}`
        : "add the plugin that defines it to plugins:",
    );
  }
  const where = recipeLocation(
    recipe,
    part ? ["data", entry, "split", "parts", part] : ["data", entry],
  );
  const context = `data "${name}" (read by ${request.by}) cannot be read`;
  const baseDir = dirname(recipe.file);
  let opened: DataSet;
  try {
    opened = source.definition.open(spec.options, { resolve: (path) => resolve(baseDir, path) });
  } catch (error) {
    throw atRecipeKey(error, where, context);
  }
  if (part && spec.split) opened = splitPart(opened, spec.split, part, where);
  const located = opened;
  const count = located.count;
  return {
    // The recipe's name for it (a split's part name), which is what messages should say.
    name,
    async *records(): AsyncIterable<DataRecord> {
      try {
        yield* located.records();
      } catch (error) {
        throw atRecipeKey(error, where, context);
      }
    },
    ...(count
      ? {
          async count() {
            try {
              return await count.call(located);
            } catch (error) {
              throw atRecipeKey(error, where, context);
            }
          },
        }
      : {}),
  };
}
