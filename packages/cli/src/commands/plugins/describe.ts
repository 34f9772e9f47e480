import { closestMatch, errors, type PassDefinition, type Plugin } from "@lathe/core";
import { Args, Flags } from "@oclif/core";
import { formatOptionsTable, type OptionRow, optionRows } from "../../format/options-table.js";
import { PipelineCommand } from "../../pipeline-command.js";
import { loadRequestedPlugins } from "../../requested-plugins.js";

interface PassDescription {
  id: string;
  plugin: { name: string; version: string };
  summary: string;
  description?: string;
  requires?: PassDefinition["requires"];
  introduces: { domain: string; version: number }[];
  options: OptionRow[];
}

export default class PluginsDescribe extends PipelineCommand {
  static override summary = "Show a pass's documentation and its options table.";
  static override description =
    "Prints the pass's summary and description, the plugin that defines it, what it requires and which op domains it may introduce, and a table of its options (name, type, default, description) read from its options schema.";
  static override examples = [
    "<%= config.bin %> <%= command.id %> quantize/weight-only",
    "<%= config.bin %> <%= command.id %> test/slow --plugin ./test/plugins/test-plugin --json",
  ];
  static override enableJsonFlag = true;
  static override args = {
    pass: Args.string({ description: "Pass id, namespace/name.", required: true }),
  };
  static override flags = {
    recipe: Flags.string({ char: "r", description: "Also load the plugins this recipe lists." }),
    plugin: Flags.string({
      char: "p",
      description:
        "Also load this plugin (npm name, or a path from the current folder). Repeatable.",
      multiple: true,
    }),
  };

  async run(): Promise<PassDescription> {
    const { args, flags } = await this.parse(PluginsDescribe);
    const registry = await loadRequestedPlugins(flags.recipe, flags.plugin ?? []);
    const registered = registry.passes.get(args.pass);
    if (!registered) {
      const known = [...registry.passes.keys()];
      const close = closestMatch(args.pass, known);
      throw errors.passNotLoaded(
        args.pass,
        close
          ? `did you mean "${close}"?`
          : `${known.length > 0 ? `loaded passes: ${known.join(", ")}; ` : ""}load the plugin that defines it with --plugin or --recipe`,
      );
    }
    const described = describePass(registered.definition, registered.plugin);
    this.log(`${described.id}  ${described.summary}`);
    this.log(`plugin: ${described.plugin.name} ${described.plugin.version}`);
    if (described.description) this.log(`\n${described.description}`);
    const requires = described.requires;
    if (requires?.components?.length)
      this.log(`\nrequires components: ${requires.components.join(", ")}`);
    if (requires?.minOpset !== undefined) this.log(`requires opset: ${requires.minOpset} or newer`);
    if (described.introduces.length > 0) {
      this.log(
        `may introduce: ${described.introduces.map((i) => `${i.domain || "ai.onnx"} ${i.version}`).join(", ")}`,
      );
    }
    this.log("\noptions:");
    this.log(formatOptionsTable(described.options));
    return described;
  }
}

function describePass(pass: PassDefinition, plugin: Plugin): PassDescription {
  return {
    id: pass.id,
    plugin: { name: plugin.meta.name, version: plugin.meta.version },
    summary: pass.summary,
    ...(pass.description ? { description: pass.description } : {}),
    ...(pass.requires ? { requires: pass.requires } : {}),
    introduces: (pass.introduces ?? []).map((i) => ({ domain: i.domain, version: i.version })),
    options: optionRows(pass.options),
  };
}
