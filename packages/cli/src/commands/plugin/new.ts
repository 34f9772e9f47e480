import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { LATHE_VERSION, LatheError } from "@lathe/core";
import { Args, Flags } from "@oclif/core";
import { BaseCommand } from "../../base-command.js";
import {
  GENERATED_MODULE,
  generateOptionsSchemas,
  writeGeneratedModule,
} from "../../plugin-schema/generate.js";
import { scaffoldFiles } from "../../scaffold/templates.js";

/** The TypeScript and Node types this CLI was built with, which a new plugin pins too. */
const TOOLCHAIN = { typescript: "5.9.3", nodeTypes: "20.19.43" };

export default class PluginNew extends BaseCommand {
  static override summary =
    "Create a plugin package: a typed pass, its tests and the schema build step.";
  static override description =
    `Writes lathe-plugin-<name>/ (or the folder given with --dir): package.json (exports, types, a peer dependency on @lathe/core, the build step \`lathe plugin schema && tsc\`), tsconfig.json, src/ with definePlugin and one pass whose options are a typed interface (${GENERATED_MODULE} generated from it), test/ with PassTester tables on node:test, and a README with the recipe that uses it. \`npm install && npm test\` passes straight away. docs/writing-a-pass.md goes on from there.`;
  static override examples = [
    "<%= config.bin %> <%= command.id %> strip",
    "<%= config.bin %> <%= command.id %> @me/lathe-plugin-strip --dir plugins/strip",
  ];
  static override args = {
    name: Args.string({
      description:
        "The plugin's name (strip), or its full npm name (lathe-plugin-strip, @me/lathe-plugin-strip).",
      required: true,
    }),
  };
  static override flags = {
    dir: Flags.string({
      description: "Where to write it (default: ./<package name without scope>).",
    }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(PluginNew);
    const names = pluginNames(args.name);
    const dir = resolve(flags.dir ?? names.packageName.replace(/^@[^/]+\//, ""));
    if (existsSync(dir))
      throw new LatheError("SCAFFOLD_EXISTS", "the folder already exists; nothing was written", {
        where: dir,
        hint: "choose another name, or --dir with a folder that does not exist yet",
      });
    const files = scaffoldFiles({
      ...names,
      latheVersion: LATHE_VERSION,
      typescriptVersion: TOOLCHAIN.typescript,
      nodeTypesVersion: TOOLCHAIN.nodeTypes,
    });
    for (const [path, text] of Object.entries(files)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), text);
    }
    // The generated module is written now, so the package typechecks before its first build.
    await writeGeneratedModule(generateOptionsSchemas(dir));
    const shown = relative(process.cwd(), dir) || ".";
    this.log(`created ${names.packageName} in ${shown}: pass ${names.namespace}/remove-identity`);
    this.log(`\n  cd ${shown}\n  npm install\n  npm test`);
  }
}

/** `strip` → lathe-plugin-strip / strip; `@me/lathe-plugin-strip` → itself / strip. */
export function pluginNames(name: string): { packageName: string; namespace: string } {
  const match = /^(@[a-z0-9][\w.-]*\/)?(?:lathe-plugin-)?([a-z0-9][a-z0-9-]*)$/.exec(name);
  if (!match)
    throw new LatheError("SCAFFOLD_NAME_INVALID", `"${name}" is not a plugin name`, {
      hint: "use lower-case letters, digits and dashes, e.g. strip, lathe-plugin-strip or @me/lathe-plugin-strip",
    });
  const scope = match[1] ?? "";
  const short = match[2]!;
  return { packageName: `${scope}lathe-plugin-${short}`, namespace: short };
}
