/**
 * A recipe as a tree that remembers where every key and value was written (file, line, column),
 * through `extends` and interpolation, so any problem found later points at the right line.
 */
import type { SourceLocation } from "./diagnostic.js";

export type ScalarValue = string | number | boolean | null;

export type RecipeNode = MapNode | ListNode | ScalarNode;

export interface MapNode {
  readonly kind: "map";
  readonly at: SourceLocation;
  /** In the order written (after `extends`: the base's keys first, then new ones). */
  readonly entries: ReadonlyMap<string, MapEntry>;
}

export interface MapEntry {
  /** Where the key is written; problems with the value are reported here. */
  readonly keyAt: SourceLocation;
  readonly node: RecipeNode;
}

export interface ListNode {
  readonly kind: "list";
  readonly at: SourceLocation;
  readonly items: readonly RecipeNode[];
}

export interface ScalarNode {
  readonly kind: "scalar";
  readonly at: SourceLocation;
  readonly value: ScalarValue;
}

/** Keys and list indexes from the root, e.g. ["passes", "int4", "options", "blockSize"]. */
export type KeyPath = readonly (string | number)[];

/** The plain JSON value (maps become objects, in key order). */
export function toPlain(node: RecipeNode): unknown {
  switch (node.kind) {
    case "scalar":
      return node.value;
    case "list":
      return node.items.map(toPlain);
    case "map": {
      const object: Record<string, unknown> = {};
      // defineProperty: a key named "__proto__" must stay a key, not replace the prototype.
      for (const [key, entry] of node.entries) {
        Object.defineProperty(object, key, {
          value: toPlain(entry.node),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return object;
    }
  }
}

/**
 * Where to report a problem at `path`: the key of a map entry, the start of a list item, or,
 * for a path the recipe does not have (a missing key), the closest enclosing one that it has.
 */
export function locate(root: RecipeNode, path: KeyPath): SourceLocation {
  let node: RecipeNode = root;
  let at = root.at;
  for (const key of path) {
    const next = child(node, key);
    if (!next) break;
    node = next.node;
    at = next.at;
  }
  return at;
}

function child(
  node: RecipeNode,
  key: string | number,
): { node: RecipeNode; at: SourceLocation } | undefined {
  if (node.kind === "map" && typeof key === "string") {
    const entry = node.entries.get(key);
    return entry && { node: entry.node, at: entry.keyAt };
  }
  if (node.kind === "list" && typeof key === "number") {
    const item = node.items[key];
    return item && { node: item, at: item.at };
  }
  return undefined;
}

const PLAIN_KEY = /^[A-Za-z0-9_/-]+$/;

/** `passes.int4.options.blockSize`, `plugins[1]`, `vars["a.b"]`. */
export function formatPath(path: KeyPath): string {
  let text = "";
  for (const key of path) {
    if (typeof key === "number") text += `[${key}]`;
    else if (PLAIN_KEY.test(key)) text += text ? `.${key}` : key;
    else text += `[${JSON.stringify(key)}]`;
  }
  return text;
}

/** True when `path` is `prefix` or lies inside it. */
export function isWithin(path: KeyPath, prefix: KeyPath): boolean {
  return prefix.length <= path.length && prefix.every((key, i) => path[i] === key);
}
