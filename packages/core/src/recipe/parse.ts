// biome-ignore-all lint/suspicious/noTemplateCurlyInString: recipes write ${…} references as text
/** YAML text → a located recipe tree, with YAML syntax errors as diagnostics. */
import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  type Document as YamlDocument,
} from "yaml";
import type { RecipeDiagnostic, SourceLocation } from "./diagnostic.js";
import type { MapEntry, RecipeNode, ScalarValue } from "./node.js";

export interface ParsedFile {
  readonly node: RecipeNode | undefined;
  readonly diagnostics: RecipeDiagnostic[];
}

/** Parses one YAML file; `node` is undefined when the text has syntax errors. */
export function parseYaml(text: string, file: string): ParsedFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const locate = (offset: number): SourceLocation => {
    const { line, col } = lines.linePos(offset);
    return { file, line, column: col };
  };
  const diagnostics: RecipeDiagnostic[] = doc.errors.map((error) => {
    const at = locate(error.pos[0]);
    return {
      ...at,
      path: "",
      message: `YAML syntax error: ${error.message}`,
      hint: syntaxHint(error.code, text.split("\n")[at.line - 1] ?? ""),
    };
  });
  if (diagnostics.length > 0) return { node: undefined, diagnostics };
  const converter = new Converter(doc, locate, diagnostics);
  const start = locate(0);
  // An empty file is an empty recipe; validation then says what it lacks.
  const node = doc.contents
    ? converter.convert(doc.contents as Node, start)
    : { kind: "map" as const, at: start, entries: new Map() };
  return { node: diagnostics.length > 0 ? undefined : node, diagnostics };
}

function syntaxHint(code: string, line: string): string {
  // `{` and `}` end a value inside { … } and [ … ], so a reference there must be quoted.
  if (line.includes("${") && /[[{]/.test(line.replaceAll("${", ""))) {
    return 'inside { } or [ ], quote values that hold ${…}: "${vars.name}" (a quoted reference keeps the value\'s type)';
  }
  switch (code) {
    case "TAB_AS_INDENT":
      return "indent with spaces; YAML does not allow tabs for indentation";
    case "DUPLICATE_KEY":
      return "each key may appear once in a map; remove or rename one of them";
    case "MULTIPLE_DOCS":
      return "a recipe is one YAML document; remove the `---` separator";
    default:
      return "check the indentation and quoting on this line and the one before";
  }
}

class Converter {
  /** Anchored nodes being converted, to refuse an alias that contains itself. */
  private readonly open = new Set<Node>();

  constructor(
    private readonly doc: YamlDocument,
    private readonly locate: (offset: number) => SourceLocation,
    private readonly diagnostics: RecipeDiagnostic[],
  ) {}

  convert(node: Node, fallback: SourceLocation): RecipeNode {
    const at = node.range ? this.locate(node.range[0]) : fallback;
    if (isAlias(node)) {
      const target = node.resolve(this.doc);
      if (!target || this.open.has(target)) {
        return this.fail(at, `the alias *${node.source} refers to itself or to nothing`);
      }
      this.open.add(target);
      const converted = this.convert(target, at);
      this.open.delete(target);
      return converted;
    }
    if (isScalar(node)) return { kind: "scalar", at, value: scalarValue(node.value) };
    if (isSeq(node)) {
      return {
        kind: "list",
        at,
        items: node.items.map((item) =>
          isPair(item) || !item
            ? this.fail(at, "a list item cannot be a key: value pair here")
            : this.convert(item as Node, at),
        ),
      };
    }
    if (isMap(node)) {
      const entries = new Map<string, MapEntry>();
      for (const pair of node.items) {
        const key = pair.key as Node | null;
        const keyAt = key?.range ? this.locate(key.range[0]) : at;
        if (key && !isScalar(key)) {
          this.fail(keyAt, "a key must be plain text, not a list or a map");
          continue;
        }
        const value = pair.value as Node | null;
        entries.set(String(key?.value ?? ""), {
          keyAt,
          node: value ? this.convert(value, keyAt) : { kind: "scalar", at: keyAt, value: null },
        });
      }
      return { kind: "map", at, entries };
    }
    return this.fail(at, "unsupported YAML node");
  }

  private fail(at: SourceLocation, message: string): RecipeNode {
    this.diagnostics.push({ ...at, path: "", message });
    return { kind: "scalar", at, value: null };
  }
}

/** YAML 1.2 core scalars are already JSON values; anything else (a custom tag) reads as text. */
function scalarValue(value: unknown): ScalarValue {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  return String(value);
}
