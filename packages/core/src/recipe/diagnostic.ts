import { isAbsolute, relative } from "node:path";
import { LatheError } from "../diagnostics.js";

/** A position in a recipe file; line and column start at 1. */
export interface SourceLocation {
  /** Absolute path of the file. */
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** One problem in a recipe: where, which key, what was expected, and what to do. */
export interface RecipeDiagnostic extends SourceLocation {
  /** The key path inside the recipe, e.g. `passes.int4.options.blockSize`; "" for the whole file. */
  readonly path: string;
  readonly message: string;
  readonly hint?: string;
}

/**
 * A recipe that cannot be used, with every problem found (not only the first), so one edit
 * fixes them all. `lathe` exits with code 2 on this error.
 */
export class RecipeError extends LatheError {
  readonly file: string;
  readonly diagnostics: readonly RecipeDiagnostic[];

  constructor(file: string, diagnostics: readonly RecipeDiagnostic[]) {
    const count = diagnostics.length === 1 ? "1 problem" : `${diagnostics.length} problems`;
    super("RECIPE_INVALID", `not a valid recipe (${count})`, { where: file });
    this.name = "RecipeError";
    this.file = file;
    this.diagnostics = diagnostics;
  }

  /** A heading, then one line per problem (`file:line:col path: message`) and its hint. */
  override format(cwd = process.cwd()): string {
    const lines = this.diagnostics.map((d) => formatDiagnostic(d, cwd));
    return [`${displayPath(this.file, cwd)} is ${this.message}:`, ...lines].join("\n");
  }
}

/** `recipe.yaml:12:7 passes.int4.options.blockSize: must be …` and an indented hint line. */
export function formatDiagnostic(diagnostic: RecipeDiagnostic, cwd = process.cwd()): string {
  const where = `${displayPath(diagnostic.file, cwd)}:${diagnostic.line}:${diagnostic.column}`;
  const head = diagnostic.path
    ? `${where} ${diagnostic.path}: ${diagnostic.message}`
    : `${where} ${diagnostic.message}`;
  return diagnostic.hint ? `${head}\n  hint: ${diagnostic.hint}` : head;
}

/** Paths under the working directory read best relative; others stay absolute. */
function displayPath(file: string, cwd: string): string {
  const rel = relative(cwd, file);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : file;
}
