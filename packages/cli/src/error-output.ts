/** How a failed command reads in a terminal and in `--json` output. */

import { isLatheError } from "@lathe/core";

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
}

/** The `error` object printed by `--json` commands when they fail. */
export function errorJson(error: unknown): ErrorJson {
  if (isLatheError(error)) {
    return {
      code: error.code,
      message: error.message,
      ...(error.where === undefined ? {} : { where: error.where }),
      ...(error.hint === undefined ? {} : { hint: error.hint }),
    };
  }
  return { code: "INTERNAL", message: error instanceof Error ? error.message : String(error) };
}
