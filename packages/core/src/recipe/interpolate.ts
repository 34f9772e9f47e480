// biome-ignore-all lint/suspicious/noTemplateCurlyInString: recipes write ${…} references as text
/**
 * `${vars.name}`, `${env:NAME}` and `${env:NAME:-default}` in string values, after `extends` is
 * merged (so an extending file can change a var its base uses). A value that is exactly one
 * reference takes the referenced value's type; references inside longer text are spliced in.
 * `$${` writes a literal `${`. Keys are never interpolated.
 */
import { closestMatch } from "../suggest.js";
import type { RecipeDiagnostic, SourceLocation } from "./diagnostic.js";
import {
  formatPath,
  type KeyPath,
  type MapEntry,
  type MapNode,
  type RecipeNode,
  type ScalarValue,
} from "./node.js";

export type Environment = Readonly<Record<string, string | undefined>>;

export interface Interpolated {
  readonly root: MapNode;
  readonly diagnostics: RecipeDiagnostic[];
  /** Values left as written because a reference in them failed; validation skips them. */
  readonly unresolved: KeyPath[];
}

const REFERENCE = /\$\$\{|\$\{([^}]*)\}/g;
const VAR_REFERENCE = /^vars\.([A-Za-z_][\w-]*)$/;
const ENV_REFERENCE = /^env:([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/;
const NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;
const SYNTAX = "write ${vars.name}, ${env:NAME} or ${env:NAME:-default}; $${ is a literal ${";

export function interpolate(root: MapNode, env: Environment): Interpolated {
  return new Interpolation(root, env).run();
}

/** What a `${…}` resolves to, or why it does not. */
type Resolution = { node: RecipeNode } | { error: Omit<RecipeDiagnostic, keyof SourceLocation> };

class Interpolation {
  private readonly diagnostics: RecipeDiagnostic[] = [];
  private readonly unresolved: KeyPath[] = [];
  private readonly vars: ReadonlyMap<string, MapEntry>;
  private readonly resolved = new Map<string, RecipeNode | undefined>();
  private readonly resolving: string[] = [];

  constructor(
    private readonly root: MapNode,
    private readonly env: Environment,
  ) {
    const vars = root.entries.get("vars")?.node;
    this.vars = vars?.kind === "map" ? vars.entries : new Map();
  }

  run(): Interpolated {
    const entries = new Map<string, MapEntry>();
    for (const [key, entry] of this.root.entries) {
      entries.set(key, { keyAt: entry.keyAt, node: this.rootValue(key, entry.node) });
    }
    return {
      root: { ...this.root, entries },
      diagnostics: this.diagnostics,
      unresolved: this.unresolved,
    };
  }

  private rootValue(key: string, node: RecipeNode): RecipeNode {
    if (key !== "vars" || node.kind !== "map") return this.walk(node, [key]);
    // Each var once, memoized, so a broken var is reported at its definition, not at every use.
    const entries = new Map<string, MapEntry>();
    for (const [name, entry] of node.entries) {
      entries.set(name, { keyAt: entry.keyAt, node: this.variable(name) ?? entry.node });
    }
    return { ...node, entries };
  }

  /** The var's value with its own references resolved; undefined when that failed. */
  private variable(name: string): RecipeNode | undefined {
    if (this.resolved.has(name)) return this.resolved.get(name);
    const entry = this.vars.get(name);
    if (!entry) return undefined;
    if (this.resolving.includes(name)) {
      const cycle = [...this.resolving.slice(this.resolving.indexOf(name)), name];
      this.report(entry.keyAt, ["vars", name], {
        message: `variables refer to each other in a cycle: ${cycle.join(" → ")}`,
        hint: "give one of them a plain value",
      });
      this.resolved.set(name, undefined);
      return undefined;
    }
    this.resolving.push(name);
    const before = this.unresolved.length;
    const node = this.walk(entry.node, ["vars", name]);
    this.resolving.pop();
    const value = this.unresolved.length === before ? node : undefined;
    // A var that a cycle already marked failed stays failed.
    if (!this.resolved.has(name)) this.resolved.set(name, value);
    return this.resolved.get(name);
  }

  private walk(node: RecipeNode, path: KeyPath): RecipeNode {
    switch (node.kind) {
      case "scalar":
        return typeof node.value === "string" ? this.text(node.value, node.at, path) : node;
      case "list":
        return { ...node, items: node.items.map((item, i) => this.walk(item, [...path, i])) };
      case "map": {
        const entries = new Map<string, MapEntry>();
        for (const [key, entry] of node.entries) {
          entries.set(key, { keyAt: entry.keyAt, node: this.walk(entry.node, [...path, key]) });
        }
        return { ...node, entries };
      }
    }
  }

  private text(text: string, at: SourceLocation, path: KeyPath): RecipeNode {
    if (!text.includes("${")) return { kind: "scalar", at, value: text };
    const matches = [...text.matchAll(REFERENCE)];
    const whole = matches.length === 1 && matches[0]![0] === text && matches[0]![1] !== undefined;
    if (whole) {
      const resolution = this.resolve(matches[0]![1]!, at, true);
      if ("node" in resolution) return resolution.node;
      return this.fail(text, at, path, resolution.error);
    }
    let result = "";
    let last = 0;
    for (const match of matches) {
      result += text.slice(last, match.index);
      last = match.index + match[0].length;
      if (match[1] === undefined) {
        result += "${";
        continue;
      }
      const resolution = this.resolve(match[1], at, false);
      if ("error" in resolution) return this.fail(text, at, path, resolution.error);
      const value = (resolution.node as { value?: ScalarValue }).value;
      if (resolution.node.kind !== "scalar" || value === null || value === undefined) {
        return this.fail(text, at, path, {
          path: formatPath(path),
          message: `\${${match[1]}} is ${describe(resolution.node)}, which cannot be part of a text`,
          hint: `write the reference alone as the whole value (key: \${${match[1]}})`,
        });
      }
      result += String(value);
    }
    const rest = text.slice(last);
    if (rest.includes("${")) {
      return this.fail(text, at, path, {
        path: formatPath(path),
        message: `"\${" is not closed with "}" in ${JSON.stringify(text)}`,
        hint: SYNTAX,
      });
    }
    return { kind: "scalar", at, value: result + rest };
  }

  private resolve(reference: string, at: SourceLocation, whole: boolean): Resolution {
    const variable = VAR_REFERENCE.exec(reference);
    if (variable) return this.resolveVar(variable[1]!, at);
    const env = ENV_REFERENCE.exec(reference);
    if (env) return this.resolveEnv(env[1]!, env[2], at, whole);
    const name = reference.replace(/^(vars?|env)[.:]/, "");
    return {
      error: {
        path: "",
        message: `unknown reference \${${reference}}`,
        hint: reference.startsWith("var.")
          ? `did you mean \${vars.${name}}?`
          : reference.startsWith("env.")
            ? `did you mean \${env:${name}}?`
            : SYNTAX,
      },
    };
  }

  private resolveVar(name: string, at: SourceLocation): Resolution {
    if (!this.vars.has(name)) {
      const suggestion = closestMatch(name, [...this.vars.keys()]);
      return {
        error: {
          path: "",
          message: `unknown variable "${name}"`,
          hint: suggestion
            ? `did you mean "${suggestion}"?`
            : `define it under vars: (vars: { ${name}: … })`,
        },
      };
    }
    const node = this.variable(name);
    // The var's own problem is reported where it is defined; here the value is just unknown.
    if (!node) return { error: { path: "", message: "" } };
    return { node: { ...node, at } };
  }

  private resolveEnv(
    name: string,
    fallback: string | undefined,
    at: SourceLocation,
    whole: boolean,
  ): Resolution {
    if (fallback?.includes("${")) {
      return {
        error: {
          path: "",
          message: `a default cannot hold another reference (\${env:${name}:-${fallback}})`,
          hint: "a default is plain text; references inside it are not resolved",
        },
      };
    }
    const value = this.env[name];
    const text = value === undefined || (value === "" && fallback !== undefined) ? fallback : value;
    if (text === undefined) {
      return {
        error: {
          path: "",
          message: `environment variable ${name} is not set`,
          hint: `set it, or give a default: \${env:${name}:-value}`,
        },
      };
    }
    return { node: { kind: "scalar", at, value: whole ? typed(text) : text } };
  }

  private fail(
    text: string,
    at: SourceLocation,
    path: KeyPath,
    error: Omit<RecipeDiagnostic, keyof SourceLocation>,
  ): RecipeNode {
    this.unresolved.push(path);
    if (error.message) this.report(at, path, error);
    return { kind: "scalar", at, value: text };
  }

  private report(
    at: SourceLocation,
    path: KeyPath,
    error: Omit<RecipeDiagnostic, keyof SourceLocation | "path">,
  ): void {
    this.diagnostics.push({ ...at, ...error, path: formatPath(path) });
  }
}

/** An environment value that is a whole value reads as a number or boolean when it looks like one. */
function typed(text: string): ScalarValue {
  if (NUMBER.test(text)) return Number(text);
  if (text === "true" || text === "false") return text === "true";
  return text;
}

function describe(node: RecipeNode): string {
  if (node.kind === "map") return "a map";
  if (node.kind === "list") return "a list";
  return "empty (null)";
}
