import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { stringify } from "yaml";
import { isPluginPath, modelSourceScheme } from "../recipe/paths.js";
import type { Recipe } from "../recipe/types.js";
import type { PlannedStep } from "./plan.js";
import { replaceFolder } from "./replace-folder.js";

export interface ReproducerParts {
  readonly recipe: Recipe;
  readonly step: PlannedStep;
  /** What the step read: a cached bundle folder, or the recipe's input (path or model source). */
  readonly input: { readonly reference: string; readonly digest: string; readonly cached: boolean };
  readonly error: unknown;
}

/**
 * Writes `failed-<step>/` in the output folder: a one-step recipe that runs the failing pass on
 * the same input (MLIR's crash reproducers), where it came from, and the error with its stack.
 */
export async function writeReproducer(outputDir: string, parts: ReproducerParts): Promise<string> {
  const { recipe, step, input, error } = parts;
  const dir = join(outputDir, `failed-${step.id}`);
  const recipeDir = dirname(recipe.file);
  const slice = {
    ...(recipe.bundle !== undefined && !input.cached
      ? { bundle: absoluteSources(recipe.bundle, recipeDir) }
      : { model: input.reference }),
    plugins: recipe.plugins.map((p) => (isPluginPath(p) ? resolve(recipeDir, p) : p)),
    seed: recipe.seed,
    passes: { [step.id]: { use: step.passId, options: step.options } },
  };
  const header = [
    `# Reproducer: step "${step.id}" of ${recipe.file} failed.`,
    `# Its input is ${input.cached ? "a cached step output" : "the recipe's input"} (digest ${input.digest}).`,
    "# Run it again with: lathe run recipe.yaml",
  ];
  await replaceFolder(dir, async (temp) => {
    await mkdir(temp, { recursive: true });
    await writeFile(join(temp, "recipe.yaml"), `${header.join("\n")}\n${stringify(slice)}`);
    await writeFile(join(temp, "input.json"), `${JSON.stringify(input, null, 2)}\n`);
    await writeFile(join(temp, "error.txt"), `${describeError(error)}\n`);
  });
  return dir;
}

/** The reproducer lives in another folder, so relative component paths become absolute. */
function absoluteSources(bundle: Readonly<Record<string, string>>, recipeDir: string) {
  return Object.fromEntries(
    Object.entries(bundle).map(([name, from]) => [
      name,
      modelSourceScheme(from) === undefined ? resolve(recipeDir, from) : from,
    ]),
  );
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause === undefined ? "" : `\n\ncaused by: ${describeError(error.cause)}`;
  return `${error.stack ?? `${error.name}: ${error.message}`}${cause}`;
}
