import { Command, Flags } from "@oclif/core";
import { errorJson, exitCode, renderError } from "./error-output.js";

/**
 * The base of every `lathe` command: a `--verbose` flag and one way to report failures.
 * A LatheError prints its own text (what, where, hint) without a stack trace; any other error is
 * reported as a bug, with the stack under `--verbose` or `DEBUG`. Exit codes: 0 success, 1 a
 * failure, 2 an invalid recipe (every problem is printed) or a usage error (oclif's own).
 */
export abstract class BaseCommand extends Command {
  static override baseFlags = {
    verbose: Flags.boolean({
      description: "Print stack traces of unexpected errors.",
      helpGroup: "GLOBAL",
    }),
  };

  protected override async catch(error: Error & { exitCode?: number }): Promise<unknown> {
    // oclif's own errors (bad flags, a missing argument, this.exit) already read well.
    if ("oclif" in error) return super.catch(error);
    process.exitCode = exitCode(error);
    if (this.jsonEnabled()) this.logJson({ error: errorJson(error) });
    else process.stderr.write(`${renderError(error, this.verbose())}\n`);
    return undefined;
  }

  /** Read from argv, not parsed flags: parsing may be what failed. */
  private verbose(): boolean {
    return this.argv.includes("--verbose") || Boolean(process.env.DEBUG);
  }
}
