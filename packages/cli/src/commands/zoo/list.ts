import { zooModels } from "@lathe/plugin-zoo";
import { BaseCommand } from "../../base-command.js";
import { formatTable } from "../../format/table.js";

interface ZooListing {
  name: string;
  summary: string;
  exporter: string;
  defaultSize: string;
  sizes: Record<string, Record<string, number | boolean | string>>;
  keys: Record<string, { type: string; description: string }>;
}

export default class ZooList extends BaseCommand {
  static override summary = "List the built-in models, their sizes and config keys.";
  static override description =
    "Every zoo model follows the graph a named exporter writes for that architecture, so passes meet what real exports contain. Build one with `lathe zoo build`, or use it in a recipe as `model: zoo:<name>?size=tiny`.";
  static override examples = ["<%= config.bin %> zoo list", "<%= config.bin %> zoo list --json"];
  static override enableJsonFlag = true;

  async run(): Promise<ZooListing[]> {
    await this.parse(ZooList);
    const listing = zooModels.map((m) => ({
      name: m.name,
      summary: m.summary,
      exporter: m.exporter,
      defaultSize: m.defaultPreset,
      sizes: m.presets,
      keys: m.configKeys,
    }));
    for (const m of listing) {
      this.log(`${m.name}  ${m.summary}`);
      this.log(`  exporter: ${m.exporter}`);
      const keys = Object.keys(m.keys);
      const rows = Object.entries(m.sizes).map(([size, config]) => [
        size === m.defaultSize ? `${size} (default)` : size,
        ...keys.map((k) => String(config[k] ?? "")),
      ]);
      this.log(formatTable([{ header: "size" }, ...keys.map((k) => ({ header: k }))], rows));
      this.log("");
    }
    return listing;
  }
}
