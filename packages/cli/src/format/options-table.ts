/** A pass's (or metric's) options as a table, read from its JSON Schema. */

import type { OptionsSchema } from "@lathe/core";
import { formatTable } from "./table.js";

export interface OptionRow {
  name: string;
  /** `integer ≥ 1`, `int4 | int8`, `number[]`, … */
  type: string;
  /** The default as JSON, if the schema gives one. */
  default?: unknown;
  required: boolean;
  description: string;
}

export function optionRows(schema: OptionsSchema): OptionRow[] {
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties).map(([name, property]) => ({
    name,
    type: typeText(property),
    ...("default" in property ? { default: property.default } : {}),
    required: required.has(name),
    description: typeof property.description === "string" ? property.description : "",
  }));
}

export function formatOptionsTable(rows: readonly OptionRow[], indent = 2): string {
  if (rows.length === 0) return `${" ".repeat(indent)}(no options)`;
  return formatTable(
    [{ header: "option" }, { header: "type" }, { header: "default" }, { header: "description" }],
    rows.map((row) => [
      row.name,
      row.type,
      "default" in row ? JSON.stringify(row.default) : row.required ? "(required)" : "",
      row.description,
    ]),
    { indent },
  );
}

function typeText(property: Record<string, unknown>): string {
  if (Array.isArray(property.enum))
    return property.enum.map((v) => (typeof v === "string" ? v : JSON.stringify(v))).join(" | ");
  const type = property.type;
  let text = Array.isArray(type) ? type.join(" | ") : typeof type === "string" ? type : "any";
  if (type === "array" && typeof property.items === "object" && property.items !== null) {
    text = `${typeText(property.items as Record<string, unknown>)}[]`;
  }
  const bounds = [
    typeof property.minimum === "number" ? `≥ ${property.minimum}` : "",
    typeof property.maximum === "number" ? `≤ ${property.maximum}` : "",
  ].filter(Boolean);
  return [text, ...bounds].join(" ");
}
