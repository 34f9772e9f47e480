import { closestMatch, LatheError, type ModelBundle } from "@lathe/core";
import { parseZooSource, resolveConfig } from "./config.js";
import type { ConfigValue, ZooModel } from "./zoo-model.js";

export interface BuiltZooModel {
  readonly model: ZooModel;
  readonly preset: string;
  readonly config: Readonly<Record<string, ConfigValue>>;
  readonly bundle: ModelBundle;
}

/** Looks a model up by name, with a "did you mean" hint for a misspelling. */
export function findZooModel(models: readonly ZooModel[], name: string): ZooModel {
  const model = models.find((m) => m.name === name);
  if (model) return model;
  const names = models.map((m) => m.name);
  const close = closestMatch(name, names);
  throw new LatheError("ZOO_MODEL_UNKNOWN", `the zoo has no model "${name}"`, {
    where: `zoo:${name}`,
    hint: close
      ? `did you mean "${close}"? Models: ${names.join(", ")}`
      : `models: ${names.join(", ")}`,
  });
}

/** Builds a zoo model from its name and `key=value` overrides (`size` picks the preset). */
export function buildZooModel(
  models: readonly ZooModel[],
  name: string,
  overrides: Readonly<Record<string, string>> = {},
  seed = 0,
): BuiltZooModel {
  const model = findZooModel(models, name);
  const { preset, config } = resolveConfig(model, overrides);
  const bundle = model.build(config, { seed });
  return { model, preset, config, bundle };
}

/** Builds from a source string such as `zoo:gpt2?size=tiny&kvCache=true&seed=3`. */
export function buildZooSource(models: readonly ZooModel[], source: string): BuiltZooModel {
  const { name, overrides } = parseZooSource(source);
  const { seed, ...rest } = overrides;
  const seedNumber = seed === undefined ? 0 : Number(seed);
  if (!Number.isSafeInteger(seedNumber) || seedNumber < 0) {
    throw new LatheError("ZOO_SOURCE_INVALID", `seed "${seed}" is not a non-negative integer`, {
      where: source,
    });
  }
  return buildZooModel(models, name, rest, seedNumber);
}
