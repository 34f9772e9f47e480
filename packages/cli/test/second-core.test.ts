import { cp, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isBuilt, lathe, SKIP_REASON, yaml } from "./cli-helpers.js";

const built = isBuilt("run");
const coreRoot = fileURLToPath(new URL("../../core", import.meta.url));
let root: string;
const tempDir = tempDirs(afterAll);

/**
 * A plugin that installed its own copy of @lathe/core: node_modules/@lathe/core is a copy of the
 * built package (its files, not a link), so its LatheError is another class than the CLI's.
 */
const PLUGIN = `
import { definePlugin, errors, LatheError, PLUGIN_API_VERSION } from "@lathe/core";

export default definePlugin({
  meta: { name: "lathe-plugin-own-core", version: "1.0.0", apiVersion: PLUGIN_API_VERSION },
  modelSources: [
    {
      scheme: "own",
      summary: "Fails the way a real source does when the model is missing.",
      async load(source) {
        if (source === "own:missing-file") throw errors.fileNotFound("models/absent.onnx");
        throw new LatheError("OWN_MODEL_UNKNOWN", "no model named " + source, {
          where: source,
          hint: "own: knows no models; this plugin only fails",
        });
      },
    },
  ],
});
`;

beforeAll(async () => {
  root = tempDir("lathe-cli-second-core-");
  const plugin = join(root, "own-core-plugin");
  const copy = join(plugin, "node_modules", "@lathe", "core");
  await mkdir(copy, { recursive: true });
  await cp(join(coreRoot, "package.json"), join(copy, "package.json"));
  await cp(join(coreRoot, "dist"), join(copy, "dist"), { recursive: true });
  // The copy's own dependencies (ajv, yaml, protobuf, onnxruntime) are the installed ones.
  await symlink(join(coreRoot, "node_modules"), join(copy, "node_modules"));
  await writeFile(
    join(plugin, "package.json"),
    JSON.stringify({ name: "lathe-plugin-own-core", type: "module", main: "./index.js" }),
  );
  await writeFile(join(plugin, "index.js"), PLUGIN);
});

async function recipe(name: string, model: string): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir);
  await writeFile(
    join(dir, "recipe.yaml"),
    yaml(`model: "${model}"`, "plugins: [../own-core-plugin]", "passes: {}"),
  );
  return dir;
}

describe.skipIf(!built)(
  `errors from a plugin's own copy of @lathe/core${built ? "" : ` (skipped: ${SKIP_REASON})`}`,
  () => {
    it("are printed as Lathe errors with their hint, not as bugs in Lathe", async () => {
      const dir = await recipe("own-error", "own:gpt5");
      const ran = lathe(["run", "recipe.yaml"], dir);
      expect(ran.status).toBe(1);
      expect(ran.stderr).toContain("error: own:gpt5: no model named own:gpt5");
      expect(ran.stderr).toContain("hint: own: knows no models; this plugin only fails");
      expect(ran.stderr).not.toMatch(/bug in Lathe/);
      const report = JSON.parse(await readFile(join(dir, "out", "report.json"), "utf8"));
      expect(report.error).toEqual({
        code: "OWN_MODEL_UNKNOWN",
        message: "no model named own:gpt5",
      });
    });

    it("keep their code and hint in --json output", async () => {
      const dir = await recipe("own-error-json", "own:missing-file");
      const ran = lathe(["run", "recipe.yaml", "--json"], dir);
      expect(ran.status).toBe(1);
      const printed = JSON.parse(ran.stdout) as { error: Record<string, string> };
      expect(printed.error).toMatchObject({
        code: "FILE_NOT_FOUND",
        where: "models/absent.onnx",
        hint: expect.stringContaining("check the path"),
      });
    });
  },
);
