import { formatPlanMermaid, formatPlanText, type PlanJson, planToJson } from "@lathe/core";
import { Args, Flags } from "@oclif/core";
import { PipelineCommand, planRecipeFile } from "../pipeline-command.js";

export default class Plan extends PipelineCommand {
  static override summary = "Print a recipe's pass graph without running it.";
  static override description =
    `Loads and validates the recipe, then prints its steps as a tree from the input model (the reference): each step reads the step before it unless it names input:, several steps reading one input are branches, and every leaf is a candidate. Disabled steps are listed apart. Nothing is loaded or run.

Exit codes: 0 the plan was printed; 2 the recipe is invalid (unknown pass, a cycle, a dangling input:, …); 1 something else failed.`;
  static override examples = [
    "<%= config.bin %> <%= command.id %> recipe.yaml",
    "<%= config.bin %> <%= command.id %> recipe.yaml --format mermaid   # paste into Markdown",
    "<%= config.bin %> <%= command.id %> recipe.yaml --format json",
  ];
  static override enableJsonFlag = true;
  static override args = {
    recipe: Args.string({ description: "Path of the recipe (.yaml).", required: true }),
  };
  static override flags = {
    format: Flags.string({
      char: "f",
      description: "text: a tree; mermaid: a flowchart; json: plain data (as --json).",
      options: ["text", "mermaid", "json"],
      default: "text",
    }),
  };

  async run(): Promise<PlanJson> {
    const { args, flags } = await this.parse(Plan);
    const graph = await planRecipeFile(args.recipe);
    const json = planToJson(graph);
    if (flags.format === "json") this.log(JSON.stringify(json, null, 2));
    else if (flags.format === "mermaid") this.log(formatPlanMermaid(graph));
    else this.log(formatPlanText(graph));
    return json;
  }
}
