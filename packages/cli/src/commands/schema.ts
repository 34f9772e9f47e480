import { writeFile } from "node:fs/promises";
import { loadPlugins, recipeSchema } from "@lathe/core";
import { Flags } from "@oclif/core";
import { BaseCommand } from "../base-command.js";
import { builtinPlugins } from "../builtin-plugins.js";

export default class Schema extends BaseCommand {
  static override summary = "Print the JSON Schema of recipes, for editors.";
  static override description =
    `The schema covers the core keys and the options of every pass, data source and metric of the built-in plugins (and of --plugin ones), with a description on every key. Point an editor at it with a first line such as:

  # yaml-language-server: $schema=../recipe.schema.json`;
  static override examples = [
    "<%= config.bin %> <%= command.id %> -o recipe.schema.json",
    "<%= config.bin %> <%= command.id %> --plugin lathe-plugin-foo -o recipe.schema.json",
  ];
  static override flags = {
    output: Flags.string({
      char: "o",
      description: "Write the schema to this file instead of printing it.",
    }),
    plugin: Flags.string({
      description:
        "Also include a plugin's passes (npm name or path, resolved from the current folder). Repeatable.",
      multiple: true,
    }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Schema);
    const registry = await loadPlugins(flags.plugin ?? [], process.cwd(), {
      builtins: builtinPlugins,
    });
    const text = `${formatJson(recipeSchema(registry))}\n`;
    if (flags.output === undefined) {
      process.stdout.write(text);
      return;
    }
    await writeFile(flags.output, text);
    const counts = [
      count(registry.passes.size, "pass", "passes"),
      count(registry.dataSources.size, "data source", "data sources"),
      count(registry.metrics.size, "metric", "metrics"),
    ];
    this.log(`wrote ${flags.output}: ${counts.join(", ")}`);
  }
}

function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

const LINE_WIDTH = 100;

/**
 * JSON as the repository's formatter (biome) writes it, so a written schema passes `pnpm lint`:
 * objects one key per line, lists of plain values on one line when it fits (numbers fill lines).
 */
function formatJson(value: unknown, indent = "", prefix = "", suffix = ""): string {
  if (Array.isArray(value) && value.length > 0) {
    if (value.every((item) => item === null || typeof item !== "object")) {
      const inline = `[${value.map((item) => JSON.stringify(item)).join(", ")}]`;
      if (indent.length + prefix.length + inline.length + suffix.length <= LINE_WIDTH)
        return inline;
    }
    const inner = `${indent}  `;
    if (value.every((item) => typeof item === "number")) {
      return `[\n${fill(value.map(String), inner)}\n${indent}]`;
    }
    const items = value.map(
      (item, i) => `${inner}${formatJson(item, inner, "", i < value.length - 1 ? "," : "")}`,
    );
    return `[\n${items.join(",\n")}\n${indent}]`;
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const entries = Object.entries(value);
    if (entries.length === 0) return "{}";
    const inner = `${indent}  `;
    const lines = entries.map(([key, item], i) => {
      const head = `${JSON.stringify(key)}: `;
      return `${inner}${head}${formatJson(item, inner, head, i < entries.length - 1 ? "," : "")}`;
    });
    return `{\n${lines.join(",\n")}\n${indent}}`;
  }
  return JSON.stringify(value);
}

/** Numbers fill each line up to the width, as the formatter writes long lists of numbers. */
function fill(items: readonly string[], indent: string): string {
  const lines: string[] = [];
  let line = "";
  items.forEach((item, i) => {
    const text = i < items.length - 1 ? `${item},` : item;
    const joined = line ? `${line} ${text}` : text;
    if (line && indent.length + joined.length > LINE_WIDTH) {
      lines.push(`${indent}${line}`);
      line = text;
    } else line = joined;
  });
  lines.push(`${indent}${line}`);
  return lines.join("\n");
}
