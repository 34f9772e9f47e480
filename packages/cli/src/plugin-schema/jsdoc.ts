import { closestMatch } from "@lathe/core";
import { type JSDoc, Node } from "ts-morph";
import { schemaErrors } from "./errors.js";

export type JsonSchema = Record<string, unknown>;

/** What a JSDoc comment says about an option: its description and the schema keywords of its tags. */
export interface DocSchema {
  readonly description?: string;
  /** Keywords from tags (`default`, `minimum`, …), in the order written. */
  readonly keywords: JsonSchema;
  /** `@integer`: the number is a whole number. */
  readonly integer: boolean;
}

const NUMBER_TAGS = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"] as const;
const COUNT_TAGS = [
  "minItems",
  "maxItems",
  "minLength",
  "maxLength",
  "minProperties",
  "maxProperties",
] as const;
const KNOWN_TAGS = [
  "default",
  "format",
  "examples",
  "pattern",
  "uniqueItems",
  "integer",
  ...NUMBER_TAGS,
  ...COUNT_TAGS,
];
/** Tags that say nothing about the schema, left for documentation tools. */
const PROSE_TAGS = new Set(["see", "remarks", "deprecated", "example", "link", "since", "note"]);

/** Where a node is, as `file:line:col` relative to `root`. */
export function nodeWhere(node: Node, root: string): string {
  const file = node.getSourceFile().getFilePath();
  const relative = file.startsWith(`${root}/`) ? file.slice(root.length + 1) : file;
  const { line, column } = node.getSourceFile().getLineAndColumnAtPos(node.getStart());
  return `${relative}:${line}:${column}`;
}

/**
 * The description and schema tags of a declaration's JSDoc. `path` and `where` only name the
 * option in errors: a tag whose value does not parse is an error, never silently dropped.
 */
export function readDoc(node: Node, path: string, where: string): DocSchema {
  const docs: JSDoc[] = Node.isJSDocable(node) ? node.getJsDocs() : [];
  const descriptions: string[] = [];
  const keywords: JsonSchema = {};
  let integer = false;
  for (const doc of docs) {
    const text = normalize(doc.getDescription());
    if (text) descriptions.push(text);
    for (const tag of doc.getTags()) {
      const name = tag.getTagName();
      const value = normalize(tag.getCommentText() ?? "");
      const bad = (why: string) => schemaErrors.badTag(where, path, name, why);
      if (name === "default") keywords.default = parseJson(value, bad);
      else if (name === "examples") {
        const examples = parseJson(value, bad);
        if (!Array.isArray(examples)) throw bad(`must be a JSON array, e.g. @examples ["a", "b"]`);
        keywords.examples = examples;
      } else if ((NUMBER_TAGS as readonly string[]).includes(name)) {
        const n = Number(value);
        if (value === "" || !Number.isFinite(n)) throw bad(`needs a number, not "${value}"`);
        keywords[name] = n;
      } else if ((COUNT_TAGS as readonly string[]).includes(name)) {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 0) throw bad(`needs a whole number ≥ 0, not "${value}"`);
        keywords[name] = n;
      } else if (name === "pattern") {
        try {
          new RegExp(value, "u");
        } catch (error) {
          throw bad(`is not a regular expression: ${(error as Error).message}`);
        }
        keywords.pattern = value;
      } else if (name === "format") {
        if (!/^[a-z-]+$/.test(value))
          throw bad(`needs a format name such as regex, not "${value}"`);
        keywords.format = value;
      } else if (name === "uniqueItems") {
        if (value !== "") throw bad("takes no value");
        keywords.uniqueItems = true;
      } else if (name === "integer") {
        if (value !== "") throw bad("takes no value");
        integer = true;
      } else if (!PROSE_TAGS.has(name)) {
        const close = closestMatch(name, KNOWN_TAGS);
        throw bad(`is not a tag Lathe knows${close ? `: did you mean @${close}?` : ""}`);
      }
    }
  }
  const description = descriptions.join(" ");
  return { ...(description ? { description } : {}), keywords, integer };
}

function normalize(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

function parseJson(text: string, bad: (why: string) => Error): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw bad(
      `needs a JSON value (strings in double quotes), not ${text === "" ? "nothing" : `\`${text}\``}`,
    );
  }
}
