import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  builtinMetricsPlugin,
  FOLDER_MARKER,
  isLatheError,
  type LatheError,
  loadPlugins,
  type PluginRegistry,
  planRecipe,
  type Recipe,
  runPipeline,
} from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import zooPlugin from "../../../plugins/zoo/src/index.js";
import { makeRecipe, TEST_PLUGIN } from "./recipe-fixture.js";

const tempDir = tempDirs(afterAll);

const root = tempDir("lathe-output-folders-");
let registry: PluginRegistry;
beforeAll(async () => {
  registry = await loadPlugins([TEST_PLUGIN], root, {
    builtins: [zooPlugin, builtinMetricsPlugin],
  });
});

/** One step, `triple`, whose candidate folder is out/triple; evaluated and selected when asked. */
async function recipe(dir: string, select = false): Promise<Recipe> {
  return makeRecipe(
    dir,
    { triple: { use: "test/scale-output", options: { factor: 3 } } },
    select
      ? {
          evaluate: { metrics: { "core/size": {} }, constraints: [] },
          select: { objective: "size.bytes", direction: "minimize" },
        }
      : {},
  );
}

async function runError(r: Recipe): Promise<LatheError> {
  const error = await runPipeline(planRecipe(r, registry)).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isLatheError(error)) throw new Error(`expected a LatheError, got ${String(error)}`);
  return error;
}

/** A folder of the user's own files. */
async function userFolder(path: string): Promise<void> {
  await mkdir(path, { recursive: true });
  await writeFile(join(path, "notes.txt"), "my notes\n");
  await mkdir(join(path, "photos"));
  await writeFile(join(path, "photos", "cat.jpg"), "not really a cat\n");
}

async function userFilesIntact(path: string): Promise<void> {
  expect((await readdir(path)).sort()).toEqual(["notes.txt", "photos"]);
  expect(await readFile(join(path, "notes.txt"), "utf8")).toBe("my notes\n");
  expect(await readFile(join(path, "photos", "cat.jpg"), "utf8")).toBe("not really a cat\n");
}

describe("output folders", () => {
  it("are marked, and a second run replaces its own", async () => {
    const dir = await mkdtemp(join(root, "own-"));
    const r = await recipe(dir, true);
    for (let i = 0; i < 2; i++) {
      const result = await runPipeline(planRecipe(r, registry));
      expect(result.selected).toBe(join(dir, "out", "selected"));
    }
    for (const folder of ["triple", "selected"]) {
      expect((await readdir(join(dir, "out", folder))).sort()).toEqual([
        FOLDER_MARKER,
        "bundle.json",
        "model.onnx",
      ]);
    }
  });

  it("never replaces a user's folder named like a step: an error names it, nothing is touched", async () => {
    const dir = await mkdtemp(join(root, "user-step-"));
    await userFolder(join(dir, "out", "triple"));
    const error = await runError(await recipe(dir));
    expect(error.code).toBe("OUTPUT_FOLDER_NOT_LATHES");
    expect(error.where).toBe(join(dir, "out", "triple"));
    expect(error.message).toContain(`it has no ${FOLDER_MARKER} file`);
    expect(error.hint).toMatch(/move or rename it, or set output.dir to another folder/);
    await userFilesIntact(join(dir, "out", "triple"));
    // No temp folder left beside it.
    expect((await readdir(join(dir, "out"))).sort()).toEqual(["report.json", "triple"]);
  });

  it("never replaces a user's selected/ folder", async () => {
    const dir = await mkdtemp(join(root, "user-selected-"));
    await userFolder(join(dir, "out", "selected"));
    const error = await runError(await recipe(dir, true));
    expect(error.code).toBe("OUTPUT_FOLDER_NOT_LATHES");
    expect(error.where).toBe(join(dir, "out", "selected"));
    await userFilesIntact(join(dir, "out", "selected"));
  });

  it("never removes a user's selected/ folder when a run selects nothing", async () => {
    const dir = await mkdtemp(join(root, "user-selected-none-"));
    await userFolder(join(dir, "out", "selected"));
    const r = await recipe(dir, true);
    const error = await runError({
      ...r,
      evaluate: { ...r.evaluate, constraints: ["size.bytes <= 0.5 * reference"] },
    });
    expect(error.code).toBe("OUTPUT_FOLDER_NOT_LATHES");
    await userFilesIntact(join(dir, "out", "selected"));
  });

  it("never follows or replaces a symbolic link, even to a folder Lathe wrote", async () => {
    const dir = await mkdtemp(join(root, "symlink-"));
    const elsewhere = join(dir, "elsewhere");
    await userFolder(elsewhere);
    await mkdir(join(dir, "out"));
    await symlink(elsewhere, join(dir, "out", "triple"));
    const error = await runError(await recipe(dir));
    expect(error.code).toBe("OUTPUT_FOLDER_NOT_LATHES");
    expect(error.message).toContain("it is a symbolic link");
    await userFilesIntact(join(dir, "out", "triple"));
    await userFilesIntact(elsewhere);

    // A link to a marked folder is still a link: Lathe wrote the folder, not the link.
    await writeFile(join(elsewhere, FOLDER_MARKER), "{}\n");
    expect((await runError(await recipe(dir))).code).toBe("OUTPUT_FOLDER_NOT_LATHES");
    expect(existsSync(join(elsewhere, "notes.txt"))).toBe(true);
  });

  it("refuses a file where a folder goes", async () => {
    const dir = await mkdtemp(join(root, "file-"));
    await mkdir(join(dir, "out"));
    await writeFile(join(dir, "out", "triple"), "a file\n");
    const error = await runError(await recipe(dir));
    expect(error.message).toContain("it is a file");
    expect(await readFile(join(dir, "out", "triple"), "utf8")).toBe("a file\n");
  });
});
