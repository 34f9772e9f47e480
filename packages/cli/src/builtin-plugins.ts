import {
  builtinDataPlugin,
  builtinMetricsPlugin,
  builtinOnnxPlugin,
  type Plugin,
} from "@lathe/core";
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
];
