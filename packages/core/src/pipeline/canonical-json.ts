import { createHash } from "node:crypto";
import { errors } from "../diagnostics.js";

/**
 * JSON with object keys sorted at every level, so two option objects that differ only in key
 * order read the same. Non-finite numbers (YAML's `.inf`, `.nan`) are written bare (`Infinity`),
 * which no JSON value collides with; `undefined` properties are left out as JSON does.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      return Number.isFinite(value) ? JSON.stringify(value) : String(value);
    case "object": {
      if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
      const prototype = Object.getPrototypeOf(value);
      if (prototype !== Object.prototype && prototype !== null) break;
      const entries = Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
    }
  }
  throw errors.irMisuse(
    `cannot hash ${typeof value === "object" ? value.constructor.name : typeof value} values: options must be plain JSON data`,
  );
}

/** The sha256 (hex) of the canonical JSON of `value`. */
export function canonicalHash(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value)).digest("hex");
}
