/**
 * A value as a TypeScript literal, laid out as the common formatters (Biome, Prettier) lay it
 * out at 100 columns, so a generated module passes a plugin's format check unchanged: objects
 * one key per line, short lists inline, long strings on the line after their key.
 */
const LINE_WIDTH = 100;
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

export function formatLiteral(value: unknown, indent = "", prefixWidth = 0, suffix = ""): string {
  if (Array.isArray(value)) return formatArray(value, indent, prefixWidth, suffix);
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value);
    if (entries.length === 0) return "{}";
    const inner = `${indent}  `;
    const lines = entries.map(([key, item]) => {
      const head = `${IDENTIFIER.test(key) ? key : JSON.stringify(key)}: `;
      const text = formatLiteral(item, inner, inner.length + head.length, ",");
      if (typeof item === "string" && inner.length + head.length + text.length + 1 > LINE_WIDTH)
        return `${inner}${head.trimEnd()}\n${inner}  ${text},`;
      return `${inner}${head}${text},`;
    });
    return `{\n${lines.join("\n")}\n${indent}}`;
  }
  return typeof value === "string" ? stringLiteral(value) : JSON.stringify(value);
}

/** A string in the quotes the formatters pick: double, unless that needs more escapes than single. */
function stringLiteral(text: string): string {
  const json = JSON.stringify(text);
  const doubles = text.split('"').length - 1;
  const singles = text.split("'").length - 1;
  if (doubles <= singles) return json;
  return `'${json.slice(1, -1).replaceAll('\\"', '"').replaceAll("'", "\\'")}'`;
}

function formatArray(value: unknown[], indent: string, prefixWidth: number, suffix: string) {
  if (value.length === 0) return "[]";
  const inner = `${indent}  `;
  if (value.every((item) => item === null || typeof item !== "object")) {
    const inline = `[${value.map((item) => formatLiteral(item)).join(", ")}]`;
    if (prefixWidth + inline.length + suffix.length <= LINE_WIDTH) return inline;
    if (value.every((item) => typeof item === "number"))
      return `[\n${fill(value.map(String), inner)}\n${indent}]`;
  }
  const items = value.map((item) => `${inner}${formatLiteral(item, inner, inner.length, ",")},`);
  return `[\n${items.join("\n")}\n${indent}]`;
}

/** Numbers fill each line up to the width, as the formatters write long lists of numbers. */
function fill(items: readonly string[], indent: string): string {
  const lines: string[] = [];
  let line = "";
  for (const item of items) {
    const text = `${item},`;
    const joined = line ? `${line} ${text}` : text;
    if (line && indent.length + joined.length > LINE_WIDTH) {
      lines.push(`${indent}${line}`);
      line = text;
    } else line = joined;
  }
  lines.push(`${indent}${line}`);
  return lines.join("\n");
}
