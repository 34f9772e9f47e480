/**
 * The example recipes of docs/data.md (each ```yaml block that starts with `model:`) validate
 * with the real CLI, as a user checks one before running it: every source's options, labels and
 * splits as the documentation writes them.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isBuilt, lathe, SKIP_REASON } from "./cli-helpers.js";

const doc = fileURLToPath(new URL("../../../docs/data.md", import.meta.url));
const recipes = [...(await readFile(doc, "utf8")).matchAll(/```yaml\n(model:[\s\S]*?)```/g)].map(
  (m) => m[1]!,
);
const built = isBuilt("validate");
let dir: string;
const tempDir = tempDirs(afterAll);

describe.skipIf(!built)(`docs/data.md recipes${built ? "" : ` (skipped: ${SKIP_REASON})`}`, () => {
  beforeAll(async () => {
    dir = tempDir("lathe-data-docs-");
  });

  it("has an example recipe for each real-data source", () => {
    for (const source of ["images", "audio", "text"])
      expect(
        recipes.some((r) => r.includes(`use: ${source}`)),
        source,
      ).toBe(true);
  });

  it.each(recipes.map((r, i) => [i, r.split("\n")[0]!, r] as const))(
    "recipe %i (%s) is valid",
    async (i, _first, recipe) => {
      const file = join(dir, `recipe-${i}.yaml`);
      await writeFile(file, recipe);
      const { status, stdout, stderr } = lathe(["validate", file], dir);
      expect(stderr).toBe("");
      expect(status).toBe(0);
      expect(stdout).toMatch(/is valid/);
    },
  );
});
