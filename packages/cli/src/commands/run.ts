import { isAbsolute, relative } from "node:path";
import { type RunReport, runPipeline } from "@lathe/core";
import { Args, Flags } from "@oclif/core";
import { formatResults } from "../format/evaluation.js";
import { createProgressView } from "../format/run-progress.js";
import { PipelineCommand, planRecipeFile } from "../pipeline-command.js";

export default class Run extends PipelineCommand {
  static override summary =
    "Run a recipe: every pass, cached, with the candidates and report.json written.";
  static override description =
    `Runs the recipe's steps in order. Each step's output is cached under a key made of its input, pass, plugin version, options and the recipe's seed, so a second run is all cache hits, a changed option reruns only that step and the steps after it, and an interrupted run resumes where it stopped. The candidates (steps nothing reads) are written to output.dir with report.json (docs/pipeline.md).

Ctrl-C stops the running pass cleanly and leaves the cache valid; a second Ctrl-C quits at once. A failed pass leaves a reproducer in output.dir/failed-<step>/.

Exit codes: 0 the run finished; 1 a step failed; 2 the recipe is invalid or a flag is wrong; 130 interrupted.`;
  static override examples = [
    "<%= config.bin %> <%= command.id %> recipe.yaml",
    "<%= config.bin %> <%= command.id %> recipe.yaml --only int4   # int4 and the steps it reads",
    "<%= config.bin %> <%= command.id %> recipe.yaml --no-cache --json > run.json",
    "<%= config.bin %> <%= command.id %> recipes/llm-flash-attention.yaml --explain   # why each attention block was fused or not",
  ];
  static override enableJsonFlag = true;
  static override args = {
    recipe: Args.string({ description: "Path of the recipe (.yaml).", required: true }),
  };
  static override flags = {
    "no-cache": Flags.boolean({
      description: "Run every step even when its output is cached (the cache is refreshed).",
    }),
    only: Flags.string({
      description: "Run only this step and the steps it reads from; write only its output.",
    }),
    explain: Flags.boolean({
      description:
        "Passes say why they decided what they did (flash-attention: for every Softmax, the rule that fused it or why each rule declined). Steps run again instead of coming from the cache.",
    }),
  };

  async run(): Promise<RunReport> {
    const { args, flags } = await this.parse(Run);
    const graph = await planRecipeFile(args.recipe);
    const live = Boolean(process.stderr.isTTY) && !this.jsonEnabled();
    const view = createProgressView(graph, process.stderr, { live });
    const controller = new AbortController();
    const onInterrupt = () => {
      if (controller.signal.aborted) process.exit(130);
      process.stderr.write(
        "\ninterrupting (Ctrl-C again to quit at once; the cache stays valid)\n",
      );
      controller.abort();
    };
    process.on("SIGINT", onInterrupt);
    try {
      const result = await runPipeline(graph, {
        signal: controller.signal,
        noCache: flags["no-cache"],
        explain: flags.explain,
        ...(flags.only === undefined ? {} : { only: flags.only }),
        onEvent: view.onEvent,
      });
      view.close();
      const count = (status: string) =>
        result.report.steps.filter((s) => s.status === status).length;
      this.log(`candidates: ${Object.values(result.outputs).map(display).join(", ") || "none"}`);
      if (result.report.evaluation) this.log(formatResults(result.report.evaluation));
      this.log(`report: ${display(result.reportPath)}`);
      this.log(
        `steps: ${count("ran")} ran, ${count("cached")} cached, ${count("skipped")} skipped`,
      );
      return result.report;
    } finally {
      view.close();
      process.off("SIGINT", onInterrupt);
    }
  }
}

/** Paths under the working directory read best relative; others stay absolute. */
function display(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}
