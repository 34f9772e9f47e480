import type { Plugin, PluginRegistry, PluginSource } from "@lathe/core";
import { Flags } from "@oclif/core";
import { BaseCommand } from "../../base-command.js";
import { formatOptionsTable, type OptionRow, optionRows } from "../../format/options-table.js";
import { loadRequestedPlugins } from "../../requested-plugins.js";

interface PluginListing {
  name: string;
  version: string;
  apiVersion: number;
  /** Built in, or the npm name or path it was loaded by, with the module file. */
  source: PluginSource;
  description?: string;
  passes: {
    id: string;
    summary: string;
    introduces: { domain: string; version: number }[];
    options: OptionRow[];
  }[];
  metrics: { id: string; summary: string; options: OptionRow[] }[];
  dataSources: { id: string; summary: string; options: OptionRow[] }[];
  modelSources: { scheme: string; summary: string }[];
}

export default class Plugins extends BaseCommand {
  static override summary = "List the loaded plugins: their passes, options, metrics and sources.";
  static override description =
    "Lists the built-in plugins, plus the plugins a recipe names (--recipe) or given by npm name or path (--plugin), with every pass's options as a table from its schema. `lathe plugins describe <pass>` shows one pass in full; docs/plugins.md explains how to write a plugin.";
  static override examples = [
    "<%= config.bin %> <%= command.id %>",
    "<%= config.bin %> <%= command.id %> --recipe recipe.yaml",
    "<%= config.bin %> <%= command.id %> --plugin ./my-plugin --json",
  ];
  static override enableJsonFlag = true;
  static override flags = {
    recipe: Flags.string({ char: "r", description: "Also load the plugins this recipe lists." }),
    plugin: Flags.string({
      char: "p",
      description:
        "Also load this plugin (npm name, or a path from the current folder). Repeatable.",
      multiple: true,
    }),
  };

  async run(): Promise<PluginListing[]> {
    const { flags } = await this.parse(Plugins);
    const registry = await loadRequestedPlugins(flags.recipe, flags.plugin ?? []);
    const listing = registry.plugins.map((plugin) => describePlugin(plugin, registry));
    for (const plugin of listing) {
      this.log(
        `${plugin.name} ${plugin.version}${plugin.description ? `  ${plugin.description}` : ""}`,
      );
      if (plugin.source.kind !== "built-in")
        this.log(`  from ${plugin.source.specifier} (${plugin.source.file})`);
      for (const pass of plugin.passes) {
        this.log(`  pass ${pass.id}  ${pass.summary}`);
        this.log(formatOptionsTable(pass.options, 4));
      }
      for (const metric of plugin.metrics) this.log(`  metric ${metric.id}  ${metric.summary}`);
      for (const source of plugin.dataSources)
        this.log(`  data source ${source.id}  ${source.summary}`);
      for (const source of plugin.modelSources)
        this.log(`  model source ${source.scheme}:  ${source.summary}`);
      this.log("");
    }
    return listing;
  }
}

function describePlugin(plugin: Plugin, registry: PluginRegistry): PluginListing {
  return {
    name: plugin.meta.name,
    version: plugin.meta.version,
    apiVersion: plugin.meta.apiVersion,
    source: registry.sourceOf(plugin),
    ...(plugin.meta.description ? { description: plugin.meta.description } : {}),
    passes: (plugin.passes ?? []).map((p) => ({
      id: p.id,
      summary: p.summary,
      introduces: (p.introduces ?? []).map((i) => ({ domain: i.domain, version: i.version })),
      options: optionRows(p.options),
    })),
    metrics: (plugin.metrics ?? []).map((m) => ({
      id: m.id,
      summary: m.summary,
      options: optionRows(m.options),
    })),
    dataSources: (plugin.dataSources ?? []).map((d) => ({
      id: d.id,
      summary: d.summary,
      options: optionRows(d.options),
    })),
    modelSources: (plugin.modelSources ?? []).map((s) => ({
      scheme: s.scheme,
      summary: s.summary,
    })),
  };
}
