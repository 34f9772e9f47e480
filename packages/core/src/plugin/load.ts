import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { errors, isLatheError } from "../diagnostics.js";
import { isPluginPath } from "../recipe/paths.js";
import { LATHE_VERSION } from "../version.js";
import { PluginRegistry } from "./registry.js";
import { PLUGIN_API_VERSION, type Plugin } from "./types.js";

const PASS_ID = /^[a-z][a-z0-9]*(-[a-z0-9]+)*\/[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const SCHEME = /^[a-z][a-z0-9+.-]+$/;

export interface LoadPluginsOptions {
  /**
   * Plugins that are always loaded, before the recipe's (the CLI passes the built-ins it ships:
   * the core cannot import them, since they depend on it).
   */
  readonly builtins?: readonly Plugin[];
  /** Where the specifiers come from, for error messages (the recipe file). */
  readonly where?: string;
  /**
   * The entry module of each built-in, where the caller knows it: a built-in run from a
   * workspace (not installed in node_modules) is keyed by a digest of its code.
   */
  readonly entries?: ReadonlyMap<Plugin, string>;
}

/**
 * Loads the built-ins and the recipe's plugins (npm names, resolved from `baseDir`, or paths
 * relative to it), checks each one's contract and API version, and returns their registry.
 */
export async function loadPlugins(
  specifiers: readonly string[],
  baseDir: string,
  options: LoadPluginsOptions = {},
): Promise<PluginRegistry> {
  const where = options.where ?? baseDir;
  const plugins: Plugin[] = [];
  const entries = new Map<Plugin, string>();
  const loadedBy = new Map<Plugin, string>();
  const add = (plugin: Plugin) => {
    const same = plugins.find((p) => p.meta.name === plugin.meta.name);
    // A recipe may list a built-in by name; loading it twice would only report a conflict.
    if (!same || same.meta.version !== plugin.meta.version) plugins.push(plugin);
  };
  for (const [index, builtin] of (options.builtins ?? []).entries()) {
    add(checkPlugin(builtin, `built-in plugin #${index + 1}`));
    const entry = options.entries?.get(builtin);
    if (entry !== undefined) entries.set(builtin, entry);
  }
  for (const specifier of specifiers) {
    const { plugin, file } = await importDefault(specifier, baseDir, where);
    const checked = checkPlugin(plugin, specifier);
    add(checked);
    entries.set(checked, file);
    loadedBy.set(checked, specifier);
  }
  return new PluginRegistry(plugins, entries, loadedBy);
}

async function importDefault(
  specifier: string,
  baseDir: string,
  where: string,
): Promise<{ plugin: unknown; file: string }> {
  const require = createRequire(join(resolve(baseDir), "recipe.js"));
  let file: string;
  try {
    file = require.resolve(isPluginPath(specifier) ? resolve(baseDir, specifier) : specifier);
  } catch {
    throw errors.pluginNotFound(
      specifier,
      where,
      isPluginPath(specifier)
        ? `paths are relative to the recipe's folder (${resolve(baseDir)}); point at the plugin's folder or its main module`
        : `install it where the recipe can find it: \`npm install ${specifier}\` in ${resolve(baseDir)} or a folder above`,
    );
  }
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (error) {
    if (isLatheError(error)) throw error;
    throw errors.pluginLoadFailed(specifier, where, error);
  }
  if (module.default === undefined) {
    throw errors.pluginContract(
      specifier,
      "its module",
      "has no default export",
      "export the plugin as the module's default: `export default definePlugin({ meta, passes })`",
    );
  }
  return { plugin: module.default, file };
}

/**
 * Checks that a value is a plugin this core can run: the shape `definePlugin` types, pass ids
 * `namespace/kebab-name`, object option schemas, functions where the engine calls them.
 */
export function checkPlugin(value: unknown, source: string): Plugin {
  if (!isObject(value)) {
    throw errors.pluginContract(
      source,
      "its default export",
      `is ${describe(value)}, not a plugin object`,
    );
  }
  const meta = value.meta;
  if (!isObject(meta)) {
    throw errors.pluginContract(
      source,
      "meta",
      "is missing",
      "a plugin needs meta: { name, version, apiVersion } (see docs/plugins.md)",
    );
  }
  if (typeof meta.name !== "string" || meta.name === "") {
    throw errors.pluginContract(source, "meta.name", "must be the plugin's npm package name");
  }
  const name = meta.name;
  if (typeof meta.version !== "string" || meta.version === "") {
    throw errors.pluginContract(name, "meta.version", "must be the plugin's version string");
  }
  if (typeof meta.apiVersion !== "number" || !Number.isInteger(meta.apiVersion)) {
    throw errors.pluginContract(
      name,
      "meta.apiVersion",
      `is ${describe(meta.apiVersion)}, not an integer`,
      `set it to PLUGIN_API_VERSION from @lathe/core (${PLUGIN_API_VERSION} today)`,
    );
  }
  if (meta.apiVersion !== PLUGIN_API_VERSION) {
    throw errors.pluginApiMismatch(name, meta.apiVersion, PLUGIN_API_VERSION, LATHE_VERSION);
  }
  checkList(name, value, "passes", (pass, part) => {
    checkId(name, part, pass.id, PASS_ID, "namespace/kebab-name, e.g. quantize/weight-only");
    checkText(name, `${part} (${pass.id}).summary`, pass.summary);
    checkSchema(name, `${part} (${pass.id}).options`, pass.options);
    checkFunction(name, `${part} (${pass.id}).run`, pass.run);
    checkIntroduces(name, `${part} (${pass.id}).introduces`, pass.introduces);
  });
  checkList(name, value, "metrics", (metric, part) => {
    checkId(name, part, metric.id, PASS_ID, "namespace/kebab-name, e.g. fidelity/top-k");
    checkText(name, `${part} (${metric.id}).summary`, metric.summary);
    checkSchema(name, `${part} (${metric.id}).options`, metric.options);
    checkFunction(name, `${part} (${metric.id}).measure`, metric.measure);
  });
  checkList(name, value, "dataSources", (source, part) => {
    checkText(name, `${part}.id`, source.id);
    checkText(name, `${part} (${source.id}).summary`, source.summary);
    checkSchema(name, `${part} (${source.id}).options`, source.options);
    checkFunction(name, `${part} (${source.id}).open`, source.open);
    if (source.files !== undefined) {
      checkFunction(name, `${part} (${source.id}).files`, source.files);
    }
  });
  checkList(name, value, "modelSources", (source, part) => {
    checkId(
      name,
      part,
      source.scheme,
      SCHEME,
      "a lowercase URL scheme of two or more letters, e.g. zoo",
    );
    checkText(name, `${part} (${source.scheme}).summary`, source.summary);
    checkFunction(name, `${part} (${source.scheme}).load`, source.load);
  });
  return value as unknown as Plugin;
}

type Item = Record<string, unknown>;

function checkList(
  plugin: string,
  value: Item,
  key: string,
  check: (item: Item, part: string) => void,
): void {
  const list = value[key];
  if (list === undefined) return;
  if (!Array.isArray(list)) {
    throw errors.pluginContract(plugin, key, `is ${describe(list)}, not an array`);
  }
  const seen = new Set<unknown>();
  list.forEach((item: unknown, index) => {
    const part = `${key}[${index}]`;
    if (!isObject(item))
      throw errors.pluginContract(plugin, part, `is ${describe(item)}, not an object`);
    check(item, part);
    const id = item.id ?? item.scheme;
    if (seen.has(id))
      throw errors.pluginContract(
        plugin,
        part,
        `repeats the id "${String(id)}"`,
        "give every entry its own id",
      );
    seen.add(id);
  });
}

function checkId(
  plugin: string,
  part: string,
  id: unknown,
  pattern: RegExp,
  expected: string,
): void {
  if (typeof id !== "string" || !pattern.test(id)) {
    throw errors.pluginContract(plugin, part, `has id ${describe(id)}, expected ${expected}`);
  }
}

function checkText(plugin: string, part: string, text: unknown): void {
  if (typeof text !== "string" || text === "") {
    throw errors.pluginContract(plugin, part, `is ${describe(text)}, expected a non-empty string`);
  }
}

function checkFunction(plugin: string, part: string, fn: unknown): void {
  if (typeof fn !== "function") {
    throw errors.pluginContract(plugin, part, `is ${describe(fn)}, not a function`);
  }
}

function checkSchema(plugin: string, part: string, schema: unknown): void {
  if (!isObject(schema) || schema.type !== "object" || !isObject(schema.properties)) {
    throw errors.pluginContract(
      plugin,
      part,
      "is not an object schema",
      'options must be a JSON Schema { type: "object", properties: { ... } } (use properties: {} for a pass without options)',
    );
  }
  for (const [key, property] of Object.entries(schema.properties)) {
    if (!isObject(property)) {
      throw errors.pluginContract(
        plugin,
        `${part}.properties.${key}`,
        "is not a JSON Schema object",
      );
    }
  }
}

function checkIntroduces(plugin: string, part: string, introduces: unknown): void {
  if (introduces === undefined) return;
  const ok =
    Array.isArray(introduces) &&
    introduces.every(
      (entry) =>
        isObject(entry) &&
        typeof entry.domain === "string" &&
        typeof entry.version === "number" &&
        Number.isInteger(entry.version) &&
        entry.version > 0,
    );
  if (!ok) {
    throw errors.pluginContract(
      plugin,
      part,
      "must be a list of { domain, version } with a positive integer version",
    );
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === undefined) return "missing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return JSON.stringify(value);
  return typeof value === "object" ? "an object" : `${typeof value} ${String(value)}`;
}
