/**
 * What a run's cache keys are built from besides the recipe: the digests of the code that runs
 * (the engine and each plugin, when not installed releases) and of the data each step or metric
 * may read. One per run, so each digest is computed once.
 */
import { codeDigest, engineCodeDigest } from "../plugin/code-digest.js";
import type { PluginRegistry } from "../plugin/registry.js";
import type { Plugin } from "../plugin/types.js";
import type { Recipe } from "../recipe/types.js";
import type { PluginIdentity } from "./cache-key.js";
import { DataDigests } from "./data-digest.js";

/** The label under which the engine's code digest is reported (`code of @lathe/core changed`). */
export const ENGINE = "@lathe/core";

export class KeySources {
  readonly data: DataDigests;

  constructor(
    recipe: Recipe,
    private readonly registry: PluginRegistry,
  ) {
    this.data = new DataDigests(recipe, registry);
  }

  engine(): Promise<string | undefined> {
    return engineCodeDigest();
  }

  async plugin(plugin: Plugin): Promise<PluginIdentity> {
    const entry = this.registry.entries.get(plugin);
    const code = entry === undefined ? undefined : await codeDigest(entry);
    return {
      name: plugin.meta.name,
      version: plugin.meta.version,
      ...(code === undefined ? {} : { code }),
    };
  }
}
