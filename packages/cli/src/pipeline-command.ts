import { dirname } from "node:path";
import {
  isLatheError,
  loadPlugins,
  type PassGraph,
  planRecipe,
  readRecipe,
  validateRecipe,
} from "@lathe/core";
import { BaseCommand } from "./base-command.js";
import { builtinPluginEntries, builtinPlugins } from "./builtin-plugins.js";

/** Reads a recipe, loads the built-ins and its plugins, validates it and plans its pass graph. */
export async function planRecipeFile(file: string): Promise<PassGraph> {
  const doc = await readRecipe(file);
  const registry = await loadPlugins(doc.plugins, dirname(doc.file), {
    builtins: builtinPlugins,
    entries: builtinPluginEntries,
    where: doc.file,
  });
  return planRecipe(validateRecipe(doc, registry), registry);
}

/** Errors of the plan itself: what `lathe validate` reports too, so they exit with code 2. */
const PLAN_ERRORS = new Set([
  "PASS_UNKNOWN",
  "STEP_INPUT_UNKNOWN",
  "STEP_CYCLE",
  "STEP_ID_RESERVED",
  "ONLY_STEP_INVALID",
]);

/**
 * The base of the commands that plan and run recipes. Beyond the base command's exit codes:
 * 2 for a broken plan, an unknown pass or a bad `--only` (usage), 130 (the shell's code for
 * SIGINT) for an interrupted run.
 */
export abstract class PipelineCommand extends BaseCommand {
  protected override async catch(error: Error & { exitCode?: number }): Promise<unknown> {
    const result = await super.catch(error);
    if (isLatheError(error) && error.code === "INTERRUPTED") process.exitCode = 130;
    else if (isLatheError(error) && PLAN_ERRORS.has(error.code)) process.exitCode = 2;
    return result;
  }
}
