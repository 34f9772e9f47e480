import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, describe, expect, it } from "vitest";
import { CodeDigests } from "../../src/plugin/code-digest.js";

const tempDir = tempDirs(afterAll);

const root = tempDir("lathe-code-digest-");

/** A plugin package: an entry importing a local module, a workspace link, a dependency. */
async function pluginFolder(name: string): Promise<string> {
  const dir = join(root, name);
  await mkdir(join(dir, "lib"), { recursive: true });
  await mkdir(join(dir, "node_modules", "dep"), { recursive: true });
  await writeFile(join(dir, "package.json"), '{ "name": "p", "type": "module" }');
  await writeFile(
    join(dir, "index.js"),
    'import { join } from "node:path";\nimport dep from "dep";\nimport { helper } from "./lib/helper.js";\nexport default { helper, dep, join };\n',
  );
  await writeFile(join(dir, "lib", "helper.js"), "export const helper = 1;\n");
  await writeFile(join(dir, "lib", "unused.js"), "export const unused = 1;\n");
  await writeFile(join(dir, "README.md"), "# p\n");
  await writeFile(
    join(dir, "node_modules", "dep", "package.json"),
    '{ "name": "dep", "main": "i.js" }',
  );
  await writeFile(join(dir, "node_modules", "dep", "i.js"), "module.exports = 1;\n");
  return dir;
}

const digest = (entry: string) => new CodeDigests().of(entry);

describe("code digests", () => {
  it("change when the entry or a module it imports changes, not for other files", async () => {
    const dir = await pluginFolder("edits");
    const entry = join(dir, "index.js");
    const first = await digest(entry);
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(await digest(entry)).toBe(first);

    await writeFile(join(dir, "README.md"), "# p, documented\n");
    await writeFile(join(dir, "lib", "unused.js"), "export const unused = 2;\n");
    // An installed dependency is identified by its version, not read.
    await writeFile(join(dir, "node_modules", "dep", "i.js"), "module.exports = 2;\n");
    expect(await digest(entry)).toBe(first);

    await writeFile(join(dir, "lib", "helper.js"), "export const helper = 2;\n");
    const edited = await digest(entry);
    expect(edited).not.toBe(first);
    await writeFile(join(dir, "index.js"), "export default {};\n");
    expect(await digest(entry)).not.toBe(edited);
  });

  it("follows TypeScript sources imported as .js, as compiled code names them", async () => {
    const dir = await pluginFolder("typescript");
    await writeFile(join(dir, "index.ts"), 'export { helper } from "./lib/typed.js";\n');
    await writeFile(join(dir, "lib", "typed.ts"), "export const helper: number = 1;\n");
    const first = await digest(join(dir, "index.ts"));
    await writeFile(join(dir, "lib", "typed.ts"), "export const helper: number = 2;\n");
    expect(await digest(join(dir, "index.ts"))).not.toBe(first);
  });

  it("is the same for the same code in another folder", async () => {
    const a = await digest(join(await pluginFolder("copy-a"), "index.js"));
    expect(await digest(join(await pluginFolder("copy-b"), "index.js"))).toBe(a);
  });

  it("leaves installed packages to their version", async () => {
    const dir = await pluginFolder("installed");
    expect(await digest(join(dir, "node_modules", "dep", "i.js"))).toBeUndefined();
  });
});
