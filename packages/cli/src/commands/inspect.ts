import { DEFAULT_TOP, inspectFile, type ModelSummary } from "@lathe/core";
import { Args, Flags } from "@oclif/core";
import { BaseCommand } from "../base-command.js";
import { formatSummary } from "../format/summary.js";

export default class Inspect extends BaseCommand {
  static override summary =
    "Summarize an ONNX model: metadata, inputs, ops, parameters, external data.";
  static override description =
    "Reads the model's structure without loading external weights, so it is quick even for models of many gigabytes. With --json it prints the summary as JSON (schemaVersion 1, documented in docs/inspect.md).";
  static override examples = [
    "<%= config.bin %> <%= command.id %> model.onnx",
    "<%= config.bin %> <%= command.id %> model.onnx --top 20",
    "<%= config.bin %> <%= command.id %> model.onnx --json > summary.json",
  ];
  static override enableJsonFlag = true;
  static override args = {
    model: Args.string({ description: "Path of the .onnx file.", required: true }),
  };
  static override flags = {
    top: Flags.integer({
      description: "How many of the largest initializers to list.",
      default: DEFAULT_TOP,
      min: 0,
    }),
  };

  async run(): Promise<ModelSummary> {
    const { args, flags } = await this.parse(Inspect);
    const summary = await inspectFile(args.model, { top: flags.top });
    this.log(formatSummary(summary));
    return summary;
  }
}
