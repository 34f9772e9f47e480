/**
 * Which recipe values are file paths, and how a path written in an extended (base) file keeps
 * pointing at the same file: it is relative to the file it is written in, and is rewritten
 * relative to the recipe being loaded, so `Recipe` paths are all relative to `Recipe.file`.
 */
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import type { MapEntry, MapNode, RecipeNode } from "./node.js";

/** `zoo:gpt2?size=tiny`: a lowercase scheme of two or more letters (`C:\model.onnx` stays a path). */
const MODEL_SOURCE = /^([a-z][a-z0-9+.-]+):/;

/** The model source scheme of a `model:` / `bundle:` value, or undefined for a file path. */
export function modelSourceScheme(value: string): string | undefined {
  return MODEL_SOURCE.exec(value)?.[1];
}

/** A `plugins:` entry that is a path (`./my-plugin`, `/abs/plugin`) rather than an npm name. */
export function isPluginPath(entry: string): boolean {
  // As the plugin loader tells them apart.
  return entry.startsWith(".") || isAbsolute(entry);
}

type Rebase = (value: string) => boolean;

/** Keys whose string values are paths, and which of their values are (not model sources). */
const PATH_KEYS: readonly { path: readonly string[]; isPath: Rebase }[] = [
  { path: ["model"], isPath: (v) => modelSourceScheme(v) === undefined },
  { path: ["bundle", "*"], isPath: (v) => modelSourceScheme(v) === undefined },
  { path: ["plugins", "*"], isPath: isPluginPath },
  { path: ["output", "dir"], isPath: () => true },
  { path: ["output", "cache"], isPath: () => true },
];

/** Rewrites relative paths written in other files than `file` to be relative to `file`. */
export function rebasePaths(root: MapNode, file: string): MapNode {
  let result: RecipeNode = root;
  for (const { path, isPath } of PATH_KEYS) {
    result = rewrite(result, path, (node) => {
      if (node.kind !== "scalar" || typeof node.value !== "string") return node;
      if (node.at.file === file || !isPath(node.value) || isAbsolute(node.value)) return node;
      return { ...node, value: relativeTo(file, resolve(dirname(node.at.file), node.value)) };
    });
  }
  return result as MapNode;
}

function relativeTo(file: string, target: string): string {
  const path = relative(dirname(file), target);
  if (isAbsolute(path) || path.startsWith(`..${sep}`) || path === "..") return path;
  return `.${sep}${path}`;
}

function rewrite(
  node: RecipeNode,
  path: readonly string[],
  change: (node: RecipeNode) => RecipeNode,
): RecipeNode {
  const [head, ...rest] = path;
  if (head === undefined) return change(node);
  if (node.kind === "list" && head === "*") {
    return { ...node, items: node.items.map((item) => rewrite(item, rest, change)) };
  }
  if (node.kind !== "map") return node;
  const entries = new Map<string, MapEntry>();
  for (const [key, entry] of node.entries) {
    const matches = head === "*" || head === key;
    entries.set(key, matches ? { ...entry, node: rewrite(entry.node, rest, change) } : entry);
  }
  return { ...node, entries };
}
