import { createRequire } from "node:module";
import {
  builtinDataPlugin,
  builtinMetricsPlugin,
  builtinOnnxPlugin,
  type Plugin,
} from "@lathe/core";
import ctcPlugin from "@lathe/plugin-ctc";
import diffusionPlugin from "@lathe/plugin-diffusion";
import flashAttentionPlugin from "@lathe/plugin-flash-attention";
import latentPlugin from "@lathe/plugin-latent";
import prunePlugin from "@lathe/plugin-prune";
import quantizePlugin from "@lathe/plugin-quantize";
import zooPlugin from "@lathe/plugin-zoo";

/**
 * The plugins the CLI ships and loads for every recipe, before the recipe's own `plugins:`
 * (the core cannot import them: they depend on it). `recipe.schema.json` at the repository root
 * is generated from these; regenerate it with `pnpm lathe schema -o recipe.schema.json`.
 */
export const builtinPlugins: readonly Plugin[] = [
  builtinDataPlugin,
  builtinMetricsPlugin,
  builtinOnnxPlugin,
  zooPlugin,
  quantizePlugin,
  flashAttentionPlugin,
  diffusionPlugin,
  latentPlugin,
  prunePlugin,
  ctcPlugin,
];

const require = createRequire(import.meta.url);

/**
 * Where the plugin packages' code is (a plugin's meta.name is its package name), so the engine
 * can tell a workspace checkout (keyed by a digest of its code: edits recompute) from an
 * installed release (keyed by its version). Core's own plugins are covered by the engine's
 * digest of core.
 */
export const builtinPluginEntries: ReadonlyMap<Plugin, string> = new Map(
  builtinPlugins.flatMap((plugin): [Plugin, string][] => {
    try {
      return [[plugin, require.resolve(plugin.meta.name)]];
    } catch {
      return [];
    }
  }),
);
