/**
 * The `extends` merge rule (as JSON Merge Patch, RFC 7386): maps merge key by key, the extending
 * file winning; lists and scalars replace; `key: null` removes an inherited key. Inherited keys
 * keep their order and new keys are appended, so `passes` run in the base's order, then the new ones.
 */
import { closestMatch } from "../suggest.js";
import type { RecipeDiagnostic } from "./diagnostic.js";
import { formatPath, type KeyPath, type MapEntry, type RecipeNode } from "./node.js";

export function mergeNodes(
  base: RecipeNode,
  over: RecipeNode,
  report: (diagnostic: RecipeDiagnostic) => void,
  path: KeyPath = [],
): RecipeNode {
  if (base.kind !== "map" || over.kind !== "map") return over;
  const entries = new Map<string, MapEntry>(base.entries);
  for (const [key, entry] of over.entries) {
    const inherited = entries.get(key);
    if (entry.node.kind === "scalar" && entry.node.value === null) {
      if (inherited) entries.delete(key);
      else report(removesNothing([...path, key], entry, [...base.entries.keys()]));
      continue;
    }
    entries.set(
      key,
      inherited
        ? {
            keyAt: entry.keyAt,
            node: mergeNodes(inherited.node, entry.node, report, [...path, key]),
          }
        : entry,
    );
  }
  return { kind: "map", at: over.at, entries };
}

function removesNothing(path: KeyPath, entry: MapEntry, known: string[]): RecipeDiagnostic {
  const key = String(path[path.length - 1]);
  const suggestion = closestMatch(key, known);
  return {
    ...entry.keyAt,
    path: formatPath(path),
    message: `null removes an inherited key, but the extended recipe has no "${key}" here`,
    hint: suggestion
      ? `did you mean "${suggestion}"?`
      : "remove this line, or give the key a value",
  };
}
