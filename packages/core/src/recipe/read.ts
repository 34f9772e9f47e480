/**
 * Phase one of loading a recipe: read the YAML, follow `extends`, merge, interpolate. The result
 * names the plugins to load; phase two (`validateRecipe`) checks it against what they provide.
 */
import { readFile } from "node:fs/promises";
import { dirname, relative, resolve } from "node:path";
import { errors } from "../diagnostics.js";
import { type RecipeDiagnostic, RecipeError, type SourceLocation } from "./diagnostic.js";
import { type Environment, interpolate } from "./interpolate.js";
import { mergeNodes } from "./merge.js";
import { isWithin, type KeyPath, type MapEntry, type MapNode } from "./node.js";
import { parseYaml } from "./parse.js";
import { rebasePaths } from "./paths.js";

export interface RecipeDocument {
  /** Absolute path of the recipe file. */
  readonly file: string;
  /** Every file read: the recipe, then the files it extends, nearest first. */
  readonly files: readonly string[];
  /** The merged, interpolated recipe, each value with the file, line and column it came from. */
  readonly root: MapNode;
  /** The `plugins:` entries, to load before `validateRecipe` (paths relative to `file`). */
  readonly plugins: readonly string[];
  /** Problems found while reading; `validateRecipe` reports them with its own. */
  readonly diagnostics: readonly RecipeDiagnostic[];
  /** Values left as written because interpolating them failed; validation skips them. */
  readonly unresolved: readonly KeyPath[];
}

export interface ReadRecipeOptions {
  /** Values for `${env:NAME}`; default `process.env`. */
  readonly env?: Environment;
}

/**
 * Reads a recipe file. Throws a RecipeError for what stops reading (YAML syntax, a missing or
 * circular `extends`); other problems wait in `diagnostics` for validation to report them all.
 */
export async function readRecipe(
  file: string,
  options: ReadRecipeOptions = {},
): Promise<RecipeDocument> {
  const path = resolve(file);
  const reader = new ChainReader(path, file);
  const merged = await reader.read(path, []);
  const { root, diagnostics, unresolved } = interpolate(merged, options.env ?? process.env);
  const rebased = rebasePaths(root, path);
  return {
    file: path,
    files: reader.files,
    root: rebased,
    plugins: pluginEntries(rebased, unresolved),
    diagnostics: [...reader.diagnostics, ...diagnostics],
    unresolved,
  };
}

class ChainReader {
  readonly files: string[] = [];
  readonly diagnostics: RecipeDiagnostic[] = [];

  constructor(
    private readonly top: string,
    /** The recipe's path as the caller wrote it, for the file-not-found error. */
    private readonly asGiven: string,
  ) {}

  /** The file merged over everything it extends, without the `extends` keys. */
  async read(file: string, chain: readonly string[], from?: SourceLocation): Promise<MapNode> {
    if (chain.includes(file)) {
      const cycle = [...chain.slice(chain.indexOf(file)), file].map((f) => this.show(f));
      this.stop(from!, "extends", `extends makes a cycle: ${cycle.join(" → ")}`, {
        hint: "a recipe cannot extend itself, directly or through another file",
      });
    }
    const text = await this.text(file, from);
    this.files.push(file);
    const parsed = parseYaml(text, file);
    if (!parsed.node) throw new RecipeError(this.top, parsed.diagnostics);
    const node = parsed.node;
    if (node.kind !== "map") {
      this.stop(node.at, "", `a recipe is a map of keys (model:, passes:, …), not a ${node.kind}`);
    }
    const own = new Map<string, MapEntry>(node.entries);
    const base = own.get("extends");
    own.delete("extends");
    const self: MapNode = { ...node, entries: own };
    if (!base) return self;
    if (base.node.kind !== "scalar" || typeof base.node.value !== "string" || !base.node.value) {
      this.stop(base.keyAt, "extends", "expected the path of a recipe file to extend", {
        hint: "extends: ./base.yaml (relative to this file)",
      });
    }
    const baseFile = resolve(dirname(file), base.node.value);
    const merged = await this.read(baseFile, [...chain, file], base.keyAt);
    return mergeNodes(merged, self, (d) => this.diagnostics.push(d)) as MapNode;
  }

  private async text(file: string, from: SourceLocation | undefined): Promise<string> {
    try {
      return await readFile(file, "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EISDIR") {
        this.stop(
          from ?? { file, line: 1, column: 1 },
          from ? "extends" : "",
          `${this.show(file)} is a folder, not a recipe file`,
          {
            hint: "name the recipe's .yaml file",
          },
        );
      }
      if (code !== "ENOENT") throw error;
      if (!from) throw errors.fileNotFound(this.asGiven);
      this.stop(from, "extends", `no such file: ${this.show(file)}`, {
        hint: "extends takes a path relative to the file that names it",
      });
    }
  }

  private show(file: string): string {
    return relative(dirname(this.top), file) || file;
  }

  private stop(
    at: SourceLocation,
    path: string,
    message: string,
    extra: { hint?: string } = {},
  ): never {
    throw new RecipeError(this.top, [...this.diagnostics, { ...at, path, message, ...extra }]);
  }
}

/** The string entries of `plugins:`, less those whose interpolation failed (nothing to load). */
function pluginEntries(root: MapNode, unresolved: readonly KeyPath[]): string[] {
  const plugins = root.entries.get("plugins")?.node;
  if (plugins?.kind !== "list") return [];
  const broken = (i: number) => unresolved.some((path) => isWithin(["plugins", i], path));
  return plugins.items.flatMap((item, i) =>
    item.kind === "scalar" && typeof item.value === "string" && !broken(i) ? [item.value] : [],
  );
}
