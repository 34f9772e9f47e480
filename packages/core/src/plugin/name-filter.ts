/**
 * The one meaning of `include` / `exclude` in every pass: JavaScript regular expressions searched
 * anywhere in a node's name. A plain name therefore matches every node whose name contains it
 * (`c_proj`), and `^`, `$`, `|` and escapes make it exact (`^/lm_head/MatMul$`, `/h\.1/`).
 * An empty `include` selects every node; `exclude` wins over `include`.
 */
import { errors } from "../diagnostics.js";

// An options interface writes `include: NamePattern[]`; `lathe plugin schema` reads this JSDoc
// and gives each item the `regex` format, which the recipe loader checks.
/** A regular expression searched in a node's name. @format regex */
export type NamePattern = string;

/** A pass's `include` / `exclude` options, as the recipe gives them. */
export interface NameFilterOptions {
  /** Regular expressions searched in node names; when any are given, only matching nodes. */
  readonly include: readonly string[];
  /** Regular expressions searched in node names; matching nodes are left alone. */
  readonly exclude: readonly string[];
}

/** How a pass words its `include` / `exclude` descriptions. */
export interface NameFilterWording {
  /** Whose name is matched, e.g. `node names`, `the Softmax node's name`. */
  readonly names: string;
  /** What happens to the nodes that are selected, e.g. `are quantized`. */
  readonly selected: string;
  /** What happens to the excluded ones, e.g. `stay in float`. */
  readonly excluded: string;
}

const MEANING =
  "JavaScript regular expressions, searched anywhere in the name: a plain name matches every name containing it; anchor with ^ and $, escape . ( [ with \\ to match them literally";

/** The `include` and `exclude` entries of a pass's options schema, in the shared wording. */
export function nameFilterSchema(wording: NameFilterWording): {
  include: Record<string, unknown>;
  exclude: Record<string, unknown>;
} {
  const list = { type: "array", items: { type: "string", format: "regex" }, default: [] };
  return {
    include: {
      ...list,
      description: `Patterns on ${wording.names} (${MEANING}). When any are given, only matching nodes ${wording.selected}; empty: all.`,
    },
    exclude: {
      ...list,
      description: `Patterns on ${wording.names} (${MEANING}). Matching nodes ${wording.excluded}, also when include matches them.`,
    },
  };
}

/**
 * A predicate over names: undefined when the name is selected, else why not (`name matches no
 * include pattern`, `name matches exclude pattern "c_proj"`), worded for statistics and traces.
 */
export function createNameFilter(options: NameFilterOptions): (name: string) => string | undefined {
  const include = options.include.map((p) => compile(p, "include"));
  const exclude = options.exclude.map((p) => ({ pattern: p, regex: compile(p, "exclude") }));
  return (name) => {
    const excluded = exclude.find((e) => e.regex.test(name));
    if (excluded) return `name matches exclude pattern ${JSON.stringify(excluded.pattern)}`;
    if (include.length > 0 && !include.some((r) => r.test(name))) {
      return "name matches no include pattern";
    }
    return undefined;
  };
}

/** Whether `pattern` is a regular expression `createNameFilter` accepts (the schema's `regex` format). */
export function isNamePattern(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}

function compile(pattern: string, option: "include" | "exclude"): RegExp {
  try {
    return new RegExp(pattern);
  } catch (error) {
    throw errors.namePatternInvalid(option, pattern, (error as Error).message);
  }
}
