import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  checkPlugin,
  isLatheError,
  LATHE_VERSION,
  loadPlugins,
  PLUGIN_API_VERSION,
} from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import zooPlugin from "../../../plugins/zoo/src/index.js";
import { catchLatheError } from "../fixtures/catch-lathe-error.js";
import { TEST_PLUGIN } from "../pipeline/recipe-fixture.js";

let dir: string;

const tempDir = tempDirs(afterAll);

/** A plugin module's source: a default export built from `meta` and `passes` written as JS. */
function pluginModule(name: string, passes = "[]", apiVersion = PLUGIN_API_VERSION): string {
  return `export default {
  meta: { name: ${JSON.stringify(name)}, version: "2.0.0", apiVersion: ${apiVersion} },
  passes: ${passes},
};
`;
}

const PASS = `[{ id: "fake/noop", summary: "Nothing.", options: { type: "object", properties: {} }, run: (bundle) => ({ bundle, modified: false }) }]`;

beforeAll(async () => {
  dir = tempDir("lathe-load-");
  await mkdir(join(dir, "plugins"));
  await writeFile(join(dir, "plugins", "local.mjs"), pluginModule("local-plugin", PASS));
  await writeFile(
    join(dir, "plugins", "future.mjs"),
    pluginModule("future-plugin", "[]", PLUGIN_API_VERSION + 1),
  );
  await writeFile(join(dir, "plugins", "ancient.mjs"), pluginModule("ancient-plugin", "[]", 0));
  await writeFile(join(dir, "plugins", "named-only.mjs"), "export const plugin = {};\n");
  await writeFile(join(dir, "plugins", "throws.mjs"), 'throw new Error("no GPU here");\n');
  await writeFile(join(dir, "plugins", "twin.mjs"), pluginModule("twin-plugin", PASS));
  const pkg = join(dir, "node_modules", "lathe-plugin-fake");
  await mkdir(pkg, { recursive: true });
  await writeFile(
    join(pkg, "package.json"),
    JSON.stringify({ name: "lathe-plugin-fake", type: "module", main: "main.js" }),
  );
  await writeFile(join(pkg, "main.js"), pluginModule("lathe-plugin-fake"));
});

async function loadError(specifiers: string[]) {
  const error = await loadPlugins(specifiers, dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isLatheError(error)) throw new Error(`expected a LatheError, got ${String(error)}`);
  return error;
}

describe("loadPlugins", () => {
  it("loads the built-ins, paths relative to the recipe's folder and npm names resolved from it", async () => {
    const registry = await loadPlugins(
      ["./plugins/local.mjs", "lathe-plugin-fake", TEST_PLUGIN],
      dir,
      {
        builtins: [zooPlugin],
      },
    );
    expect(registry.plugins.map((p) => p.meta.name)).toEqual([
      "@lathe/plugin-zoo",
      "local-plugin",
      "lathe-plugin-fake",
      "lathe-plugin-test",
    ]);
    expect(registry.modelSources.get("zoo")?.plugin.meta.name).toBe("@lathe/plugin-zoo");
    expect(registry.passes.get("fake/noop")?.plugin.meta.name).toBe("local-plugin");
    expect(registry.passes.has("test/rename-nodes")).toBe(true);
  });

  it("loads a plugin listed twice once", async () => {
    const registry = await loadPlugins(["./plugins/local.mjs", "./plugins/local.mjs"], dir);
    expect(registry.plugins).toHaveLength(1);
  });

  it("reports a missing path with where paths are resolved from", async () => {
    const error = await loadError(["./plugins/missing.mjs"]);
    expect(error.code).toBe("PLUGIN_NOT_FOUND");
    expect(error.message).toBe('cannot find plugin "./plugins/missing.mjs"');
    expect(error.hint).toContain(`relative to the recipe's folder (${dir})`);
  });

  it("reports a package that is not installed with the install command", async () => {
    const error = await loadError(["lathe-plugin-absent"]);
    expect(error.code).toBe("PLUGIN_NOT_FOUND");
    expect(error.hint).toContain("npm install lathe-plugin-absent");
  });

  it("wraps a module that throws while loading, keeping the cause", async () => {
    const error = await loadError(["./plugins/throws.mjs"]);
    expect(error.code).toBe("PLUGIN_LOAD_FAILED");
    expect(error.message).toBe('plugin "./plugins/throws.mjs" failed to load: no GPU here');
    expect((error.cause as Error).message).toBe("no GPU here");
  });

  it("asks for a default export", async () => {
    const error = await loadError(["./plugins/named-only.mjs"]);
    expect(error.message).toBe(
      "Plugin author: ./plugins/named-only.mjs: its module has no default export",
    );
    expect(error.hint).toContain("export default definePlugin");
  });

  it("explains which Lathe a plugin of another API version needs", async () => {
    const newer = await loadError(["./plugins/future.mjs"]);
    expect(newer.code).toBe("PLUGIN_API_MISMATCH");
    expect(newer.message).toBe(
      `plugin future-plugin was written for Lathe plugin API ${PLUGIN_API_VERSION + 1}, but this Lathe (${LATHE_VERSION}) implements plugin API ${PLUGIN_API_VERSION}`,
    );
    expect(newer.hint).toContain("needs a newer Lathe");
    const older = await loadError(["./plugins/ancient.mjs"]);
    expect(older.hint).toContain(
      `install a version of ancient-plugin written for plugin API ${PLUGIN_API_VERSION}`,
    );
  });

  it("reports two plugins defining one pass id, naming both", async () => {
    const error = await loadError(["./plugins/local.mjs", "./plugins/twin.mjs"]);
    expect(error.code).toBe("PLUGIN_CONFLICT");
    expect(error.message).toBe('pass "fake/noop" is defined by both local-plugin and twin-plugin');
  });
});

describe("checkPlugin: contract violations are told to the plugin's author", () => {
  const meta = { name: "p", version: "1.0.0", apiVersion: PLUGIN_API_VERSION };
  const schema = { type: "object", properties: {} };
  const pass = (extra: Record<string, unknown> = {}) => ({
    id: "ns/do-it",
    summary: "Does it.",
    options: schema,
    run: () => undefined,
    ...extra,
  });
  const cases: { name: string; value: unknown; message: string }[] = [
    {
      name: "not an object",
      value: 42,
      message: "Plugin author: src: its default export is number 42, not a plugin object",
    },
    { name: "missing meta", value: { passes: [] }, message: "Plugin author: src: meta is missing" },
    {
      name: "meta without a name",
      value: { meta: { version: "1", apiVersion: 1 } },
      message: "Plugin author: src: meta.name must be the plugin's npm package name",
    },
    {
      name: "meta without a version",
      value: { meta: { name: "p", apiVersion: 1 } },
      message: "Plugin author: p: meta.version must be the plugin's version string",
    },
    {
      name: "apiVersion not a number",
      value: { meta: { name: "p", version: "1", apiVersion: "1" } },
      message: 'Plugin author: p: meta.apiVersion is "1", not an integer',
    },
    {
      name: "passes not a list",
      value: { meta, passes: {} },
      message: "Plugin author: p: passes is an object, not an array",
    },
    {
      name: "a pass id without a namespace",
      value: { meta, passes: [pass({ id: "rename" })] },
      message:
        'Plugin author: p: passes[0] has id "rename", expected namespace/kebab-name, e.g. quantize/weight-only',
    },
    {
      name: "a pass id not in kebab case",
      value: { meta, passes: [pass({ id: "ns/doIt" })] },
      message:
        'Plugin author: p: passes[0] has id "ns/doIt", expected namespace/kebab-name, e.g. quantize/weight-only',
    },
    {
      name: "a pass id with underscores",
      value: { meta, passes: [pass({ id: "ns/do_it" })] },
      message:
        'Plugin author: p: passes[0] has id "ns/do_it", expected namespace/kebab-name, e.g. quantize/weight-only',
    },
    {
      name: "a pass without a summary",
      value: { meta, passes: [pass({ summary: "" })] },
      message: 'Plugin author: p: passes[0] (ns/do-it).summary is "", expected a non-empty string',
    },
    {
      name: "options that are not an object schema",
      value: { meta, passes: [pass({ options: { type: "array" } })] },
      message: "Plugin author: p: passes[0] (ns/do-it).options is not an object schema",
    },
    {
      name: "options without properties",
      value: { meta, passes: [pass({ options: { type: "object" } })] },
      message: "Plugin author: p: passes[0] (ns/do-it).options is not an object schema",
    },
    {
      name: "an option that is not a schema",
      value: { meta, passes: [pass({ options: { type: "object", properties: { bits: 4 } } })] },
      message:
        "Plugin author: p: passes[0] (ns/do-it).options.properties.bits is not a JSON Schema object",
    },
    {
      name: "run not a function",
      value: { meta, passes: [pass({ run: "go" })] },
      message: 'Plugin author: p: passes[0] (ns/do-it).run is "go", not a function',
    },
    {
      name: "introduces without versions",
      value: { meta, passes: [pass({ introduces: [{ domain: "com.microsoft" }] })] },
      message:
        "Plugin author: p: passes[0] (ns/do-it).introduces must be a list of { domain, version } with a positive integer version",
    },
    {
      name: "a repeated pass id",
      value: { meta, passes: [pass(), pass()] },
      message: 'Plugin author: p: passes[1] repeats the id "ns/do-it"',
    },
    {
      name: "a one-letter model source scheme",
      value: { meta, modelSources: [{ scheme: "z", summary: "s", load: () => undefined }] },
      message:
        'Plugin author: p: modelSources[0] has id "z", expected a lowercase URL scheme of two or more letters, e.g. zoo',
    },
    {
      name: "a metric without measure",
      value: { meta, metrics: [{ id: "m/x", summary: "s", options: schema }] },
      message: "Plugin author: p: metrics[0] (m/x).measure is missing, not a function",
    },
    {
      name: "a data source without open",
      value: { meta, dataSources: [{ id: "npz", summary: "s", options: schema }] },
      message: "Plugin author: p: dataSources[0] (npz).open is missing, not a function",
    },
  ];
  for (const { name, value, message } of cases) {
    it(name, () => {
      const error = catchLatheError(() => checkPlugin(value, "src"));
      expect(error.code).toBe("PLUGIN_CONTRACT");
      expect(error.message).toBe(message);
    });
  }

  it("accepts the built-in zoo plugin and the test plugin", async () => {
    expect(checkPlugin(zooPlugin, "zoo")).toBe(zooPlugin);
    const registry = await loadPlugins([TEST_PLUGIN], dir);
    expect([...registry.passes.keys()]).toContain("test/slow");
  });
});
