/**
 * The one JSON Schema a recipe is validated against: the core keys plus, for every pass, data
 * source and metric the registry holds, its options schema (chosen by `use:` through if/then).
 * `lathe schema` writes the same object for editors.
 */
import type { PluginRegistry, Registered } from "../plugin/registry.js";
import type { OptionsSchema } from "../plugin/types.js";
import { coreSchema } from "./core-schema.js";

type Schema = Record<string, unknown>;

interface Optioned {
  readonly id: string;
  readonly summary: string;
  readonly options: OptionsSchema;
}

export function recipeSchema(registry: PluginRegistry): Schema {
  const schema = coreSchema();
  const definitions = schema.definitions as Record<string, Schema>;
  addChoices(definitions.step!, "pass", sorted(registry.passes));
  addChoices(definitions.dataSource!, "data source", sorted(registry.dataSources));
  const evaluate = (schema.properties as Record<string, Schema>).evaluate!;
  const metrics = (evaluate.properties as Record<string, Schema>).metrics!;
  metrics.properties = Object.fromEntries(
    sorted(registry.metrics).map((metric) => [
      metric.id,
      optionsFor(metric, `Options of the metric ${metric.id}: ${metric.summary}`),
    ]),
  );
  // A copy: plugin schemas are shared objects and the caller may change this one.
  return structuredClone(schema);
}

/** Makes `use:` an enum of the known ids, and `options` follow the chosen one's schema. */
function addChoices(definition: Schema, kind: string, items: readonly Optioned[]): void {
  if (items.length === 0) return;
  const properties = definition.properties as Record<string, Schema>;
  properties.use = { ...properties.use, enum: items.map((item) => item.id) };
  definition.allOf = items.map((item) => ({
    if: { properties: { use: { const: item.id } }, required: ["use"] },
    // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then, never awaited
    then: {
      properties: {
        // The default here (not only on the step) is what makes ajv fill the pass's defaults.
        options: optionsFor(item, `Options of the ${kind} ${item.id}: ${item.summary}`, {}),
      },
    },
  }));
}

/** The plugin's options schema; unknown keys are errors unless the plugin allows them. */
function optionsFor(item: Optioned, description: string, fallback?: object): Schema {
  return {
    additionalProperties: false,
    description,
    ...item.options,
    ...(fallback === undefined ? {} : { default: fallback }),
  };
}

function sorted<T extends Optioned>(map: ReadonlyMap<string, Registered<T>>): T[] {
  return [...map.values()]
    .map((entry) => entry.definition)
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
