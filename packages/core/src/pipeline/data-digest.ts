/**
 * What a recipe's data sets hold, for the cache keys of the steps and metrics that read them: a
 * calibration `.npz` edited in place must not be answered from the cache with results computed
 * on the old one. A data set's digest covers its source and options (a generator's seed among
 * them) and the contents of every file its source reads (`DataSourceDefinition.files`), streamed.
 */
import type { Dirent } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { codeDigest } from "../plugin/code-digest.js";
import type { PluginRegistry } from "../plugin/registry.js";
import type { Recipe } from "../recipe/types.js";
import { canonicalHash } from "./canonical-json.js";
import { dataNames } from "./data-split.js";
import { sha256File } from "./input.js";

/**
 * The names of the recipe's data sets that `options` name (any string value, at any depth):
 * the data a step or metric may read. Reading any other is refused (see context.ts), so the key
 * built from these covers everything the result depends on.
 */
export function dataNamesIn(options: unknown, data: Recipe["data"]): string[] {
  const names = new Set<string>();
  const known = dataNames(data);
  const visit = (value: unknown): void => {
    if (typeof value === "string") {
      if (known.has(value)) names.add(value);
    } else if (Array.isArray(value)) {
      for (const item of value) visit(item);
    } else if (typeof value === "object" && value !== null) {
      for (const item of Object.values(value)) visit(item);
    }
  };
  visit(options);
  return [...names].sort();
}

/** Digests of a recipe's data sets, each computed once per run and only when asked for. */
export class DataDigests {
  private readonly digests = new Map<string, Promise<string>>();
  private readonly baseDir: string;

  constructor(
    private readonly recipe: Recipe,
    private readonly registry: PluginRegistry,
  ) {
    this.baseDir = dirname(recipe.file);
  }

  /** Data set name → digest, for the data sets `options` name. */
  async of(options: unknown): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const name of dataNamesIn(options, this.recipe.data)) out[name] = await this.digest(name);
    return out;
  }

  digest(name: string): Promise<string> {
    let digest = this.digests.get(name);
    if (!digest) {
      digest = this.compute(name);
      this.digests.set(name, digest);
    }
    return digest;
  }

  private async compute(name: string): Promise<string> {
    const named = dataNames(this.recipe.data).get(name)!;
    // A split's part: the whole data set's digest, the split and which part.
    if (named.part)
      return canonicalHash({
        data: await this.digest(named.entry),
        split: named.spec.split ?? null,
        part: named.part,
      });
    const { spec } = named;
    const source = this.registry.dataSources.get(spec.use);
    // An unknown source fails when the data is opened, with its own error; the key only needs
    // to be what the recipe says.
    const plugin = source?.plugin;
    const entry = plugin ? this.registry.entries.get(plugin) : undefined;
    const context = { resolve: (path: string) => resolve(this.baseDir, path) };
    const files = source?.definition.files
      ? await source.definition.files(spec.options as never, context)
      : [];
    const contents: Record<string, string> = {};
    for (const path of files) Object.assign(contents, await pathDigests(path, this.baseDir));
    return canonicalHash({
      use: spec.use,
      options: spec.options,
      source: plugin && {
        name: plugin.meta.name,
        version: plugin.meta.version,
        code: entry === undefined ? null : ((await codeDigest(entry)) ?? null),
      },
      files: contents,
    });
  }
}

/** sha256 of a file, or of every file under a folder, by path relative to the recipe's folder. */
async function pathDigests(path: string, baseDir: string): Promise<Record<string, string>> {
  const name = (p: string) => relative(baseDir, p).split(sep).join("/");
  let isFolder: boolean;
  try {
    isFolder = (await stat(path)).isDirectory();
  } catch {
    // Missing now: reading it fails with its own error; creating it later changes the key.
    return { [name(path)]: "absent" };
  }
  if (!isFolder) return { [name(path)]: await sha256File(path) };
  const out: Record<string, string> = {};
  const entries: Dirent[] = await readdir(path, { withFileTypes: true, recursive: true });
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const file = join(entry.parentPath, entry.name);
    out[name(file)] = await sha256File(file);
  }
  return out;
}
