/** How a failed command reads in a terminal and in `--json` output. */

import { isLatheError, type RecipeDiagnostic } from "@lathe/core";

/** 2 for a recipe that does not validate, 1 for every other failure. */
export function exitCode(error: unknown): number {
  return isLatheError(error) && error.code === "RECIPE_INVALID" ? 2 : 1;
}

/** A Lathe error as `format()` writes it (what, where, hint); anything else as a bug to report. */
export function renderError(error: unknown, verbose: boolean): string {
  const stack = verbose && error instanceof Error && error.stack ? `\n\n${error.stack}` : "";
  if (isLatheError(error))
    return `error: ${error.format()}${verbose ? `\n  code: ${error.code}` : ""}${stack}`;
  const message = error instanceof Error ? error.message : String(error);
  const more = verbose ? "" : " (run again with --verbose or DEBUG=1 to see the stack trace)";
  return `error: ${message}\nthis is a bug in Lathe; please report it with the command you ran${more}${stack}`;
}

export interface ErrorJson {
  code: string;
  message: string;
  where?: string;
  hint?: string;
  /** Every problem of an invalid recipe (code RECIPE_INVALID). */
  diagnostics?: readonly RecipeDiagnostic[];
}

/** The `error` object printed by `--json` commands when they fail. */
export function errorJson(error: unknown): ErrorJson {
  if (isLatheError(error)) {
    return {
      code: error.code,
      message: error.message,
      ...(error.where === undefined ? {} : { where: error.where }),
      ...(error.hint === undefined ? {} : { hint: error.hint }),
      ...("diagnostics" in error ? { diagnostics: error.diagnostics as RecipeDiagnostic[] } : {}),
    };
  }
  return { code: "INTERNAL", message: error instanceof Error ? error.message : String(error) };
}
