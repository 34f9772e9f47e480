import { existsSync } from "node:fs";
import { relative } from "node:path";
import { LatheError } from "@lathe/core";
import { Args, Flags } from "@oclif/core";
import { BaseCommand } from "../../base-command.js";
import {
  GENERATED_MODULE,
  generateOptionsSchemas,
  isGeneratedModuleCurrent,
  writeGeneratedModule,
} from "../../plugin-schema/generate.js";

export default class PluginSchema extends BaseCommand {
  static override summary = "Generate a plugin's options schemas from its TypeScript types.";
  static override description =
    `Reads the package with ts-morph, finds every definePass<Options> (and defineMetric, defineDataSource) and converts each options interface to JSON Schema: JSDoc text becomes the description, and the tags @default, @minimum, @maximum, @exclusiveMinimum, @exclusiveMaximum, @integer, @pattern, @minItems, @maxItems, @minLength, @maxLength, @minProperties, @maxProperties, @uniqueItems and @examples become the keywords. String and number literal unions become enums, optional properties are not required, Record<string, T> is a map. The schemas are written to ${GENERATED_MODULE}, which the passes import (options: myPassOptionsSchema). docs/writing-a-pass.md has the whole story.`;
  static override examples = [
    "<%= config.bin %> <%= command.id %>",
    "<%= config.bin %> <%= command.id %> packages/plugins/quantize --check",
  ];
  static override args = {
    package: Args.string({ description: "The plugin package's folder.", default: "." }),
  };
  static override flags = {
    check: Flags.boolean({
      description: "Write nothing; fail when the generated module is not current (for CI).",
    }),
    out: Flags.string({
      description: `The module to write, relative to the package (default ${GENERATED_MODULE}).`,
    }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(PluginSchema);
    const module = generateOptionsSchemas(args.package, flags.out ? { out: flags.out } : {});
    const shown = relative(process.cwd(), module.file) || module.file;
    const count = `${module.schemas.length} options schema${module.schemas.length === 1 ? "" : "s"}`;
    if (module.schemas.length === 0 && !existsSync(module.file)) {
      this.log(`no definePass<Options> (or defineMetric, defineDataSource) found: nothing written`);
      return;
    }
    if (flags.check) {
      if (!(await isGeneratedModuleCurrent(module)))
        throw new LatheError(
          "OPTIONS_SCHEMAS_STALE",
          "the generated options schemas are not current",
          {
            where: shown,
            hint: `run \`lathe plugin schema ${args.package}\` and commit the result`,
          },
        );
      this.log(`${shown} is current (${count})`);
      return;
    }
    await writeGeneratedModule(module);
    this.log(`wrote ${shown}: ${count} (${module.schemas.map((s) => s.id).join(", ")})`);
  }
}
