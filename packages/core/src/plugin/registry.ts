import { LatheError } from "../diagnostics.js";
import { isPluginPath } from "../recipe/paths.js";
import type {
  DataSourceDefinition,
  MetricDefinition,
  ModelSourceDefinition,
  PassDefinition,
  Plugin,
} from "./types.js";

/** Where a loaded plugin came from: shipped with the CLI, an npm package, or a path. */
export interface PluginSource {
  readonly kind: "built-in" | "npm" | "path";
  /** As the recipe or `--plugin` wrote it (npm and path plugins). */
  readonly specifier?: string;
  /** The module that was imported, when known. */
  readonly file?: string;
}

export interface Registered<T> {
  readonly definition: T;
  readonly plugin: Plugin;
}

/**
 * Everything the loaded plugins provide, looked up by id. Built once per run from the built-in
 * plugins plus the recipe's; two plugins defining the same id is an error naming both.
 */
export class PluginRegistry {
  readonly plugins: readonly Plugin[];
  readonly passes = new Map<string, Registered<PassDefinition>>();
  readonly metrics = new Map<string, Registered<MetricDefinition>>();
  readonly dataSources = new Map<string, Registered<DataSourceDefinition>>();
  readonly modelSources = new Map<string, Registered<ModelSourceDefinition>>();

  /**
   * Where each plugin's code was loaded from (its entry module), when known: a plugin loaded by
   * path or from a workspace is keyed by a digest of its code (see code-digest.ts).
   */
  readonly entries: ReadonlyMap<Plugin, string>;

  /** The specifier (npm name or path) each plugin that is not built in was loaded by. */
  readonly specifiers: ReadonlyMap<Plugin, string>;

  constructor(
    plugins: readonly Plugin[],
    entries: ReadonlyMap<Plugin, string> = new Map(),
    specifiers: ReadonlyMap<Plugin, string> = new Map(),
  ) {
    this.plugins = plugins;
    this.entries = entries;
    this.specifiers = specifiers;
    for (const plugin of plugins) {
      add(this.passes, "pass", plugin, plugin.passes, (p) => p.id);
      add(this.metrics, "metric", plugin, plugin.metrics, (m) => m.id);
      add(this.dataSources, "data source", plugin, plugin.dataSources, (d) => d.id);
      add(this.modelSources, "model source", plugin, plugin.modelSources, (s) => s.scheme);
    }
  }

  /** Where a plugin came from, for `lathe plugins`: built in, or the npm name or path it was loaded by. */
  sourceOf(plugin: Plugin): PluginSource {
    const specifier = this.specifiers.get(plugin);
    const file = this.entries.get(plugin);
    const kind = specifier === undefined ? "built-in" : isPluginPath(specifier) ? "path" : "npm";
    return {
      kind,
      ...(specifier !== undefined ? { specifier } : {}),
      ...(file !== undefined ? { file } : {}),
    };
  }
}

function add<T>(
  map: Map<string, Registered<T>>,
  kind: string,
  plugin: Plugin,
  items: readonly T[] | undefined,
  key: (item: T) => string,
): void {
  for (const definition of items ?? []) {
    const id = key(definition);
    const existing = map.get(id);
    if (existing) {
      throw new LatheError(
        "PLUGIN_CONFLICT",
        `${kind} "${id}" is defined by both ${existing.plugin.meta.name} and ${plugin.meta.name}`,
        { hint: "remove one of the two plugins from the recipe's plugins: list" },
      );
    }
    map.set(id, { definition, plugin });
  }
}
