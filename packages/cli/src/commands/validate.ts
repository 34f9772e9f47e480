import { dirname, isAbsolute, relative } from "node:path";
import { loadPlugins, type Recipe, readRecipe, validateRecipe } from "@lathe/core";
import { Args } from "@oclif/core";
import { BaseCommand } from "../base-command.js";
import { builtinPlugins } from "../builtin-plugins.js";

interface ValidateResult {
  file: string;
  valid: true;
  /** The recipe as the engine sees it: extends merged, interpolated, defaults filled in. */
  recipe: Recipe;
}

export default class Validate extends BaseCommand {
  static override summary = "Check a recipe without running it, and report every problem.";
  static override description =
    `Reads the recipe (following extends: and interpolating \${vars.*} and \${env:*}), loads its plugins and checks it against the schema they make up: unknown keys, types, every pass's options, references between steps, data sources and metrics. All problems are reported at once, each as file:line:column, the key path, what was expected, and a hint.

Exit codes: 0 the recipe is valid; 2 it is not (every problem is printed); 1 something else failed (a plugin could not be loaded, the file is missing). docs/recipes.md describes every key.`;
  static override examples = [
    "<%= config.bin %> <%= command.id %> recipes/inspect-only.yaml",
    "<%= config.bin %> <%= command.id %> recipe.yaml --json   # the resolved recipe, defaults filled in",
  ];
  static override enableJsonFlag = true;
  static override args = {
    recipe: Args.string({ description: "Path of the recipe (.yaml).", required: true }),
  };

  async run(): Promise<ValidateResult> {
    const { args } = await this.parse(Validate);
    const doc = await readRecipe(args.recipe);
    const registry = await loadPlugins(doc.plugins, dirname(doc.file), {
      builtins: builtinPlugins,
      where: doc.file,
    });
    const recipe = validateRecipe(doc, registry);
    this.log(`${display(recipe.file)} is valid: ${describeRecipe(recipe)}`);
    return { file: recipe.file, valid: true, recipe };
  }
}

/** `2 steps (int4: quantize/weight-only, fp16: convert/fp16, disabled), 1 metric`. */
function describeRecipe(recipe: Recipe): string {
  const steps = Object.entries(recipe.passes).map(
    ([id, step]) => `${id}: ${step.use}${step.enabled ? "" : ", disabled"}`,
  );
  const parts = [`${count(steps.length, "step")}${steps.length ? ` (${steps.join("; ")})` : ""}`];
  const metrics = Object.keys(recipe.evaluate.metrics).length;
  const data = Object.keys(recipe.data).length;
  if (metrics > 0) parts.push(count(metrics, "metric"));
  if (data > 0) parts.push(count(data, "data set"));
  return parts.join(", ");
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

function display(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : file;
}
