import { dirname } from "node:path";
import { loadPlugins, PluginRegistry, readRecipe } from "@lathe/core";
import { builtinPlugins } from "./builtin-plugins.js";

/**
 * What `lathe plugins` shows: the built-ins, the plugins a recipe lists (paths relative to the
 * recipe) and any named on the command line (paths relative to the current folder).
 */
export async function loadRequestedPlugins(
  recipe: string | undefined,
  extra: readonly string[],
): Promise<PluginRegistry> {
  const doc = recipe === undefined ? undefined : await readRecipe(recipe);
  const base = await loadPlugins(doc?.plugins ?? [], doc ? dirname(doc.file) : process.cwd(), {
    builtins: builtinPlugins,
    ...(doc ? { where: doc.file } : {}),
  });
  if (extra.length === 0) return base;
  const added = await loadPlugins(extra, process.cwd(), { where: "--plugin" });
  const loaded = new Set(base.plugins.map((p) => `${p.meta.name}@${p.meta.version}`));
  const fresh = added.plugins.filter((p) => !loaded.has(`${p.meta.name}@${p.meta.version}`));
  // One registry over both, so a pass id defined twice is reported as in a recipe.
  const plugins = [...base.plugins, ...fresh];
  const from = (p: (typeof plugins)[number]) => (fresh.includes(p) ? added : base);
  const pick = (map: (r: PluginRegistry) => ReadonlyMap<(typeof plugins)[number], string>) =>
    new Map(
      plugins.flatMap((p) => {
        const v = map(from(p)).get(p);
        return v === undefined ? [] : [[p, v] as const];
      }),
    );
  return new PluginRegistry(
    plugins,
    pick((r) => r.entries),
    pick((r) => r.specifiers),
  );
}
