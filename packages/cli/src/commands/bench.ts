import type { MetricValues, TargetSpec } from "@lathe/core";
import { Args, Flags } from "@oclif/core";
import { BaseCommand } from "../base-command.js";
import { withBatchDefaults } from "../evaluate/batch-default.js";
import { latencyFrom, targetFlags, targetFrom, timingFlags } from "../evaluate/flags.js";
import { jsonSafe, measureFiles, throwOnMetricErrors } from "../evaluate/measure.js";
import { formatValues } from "../format/evaluation.js";

export interface BenchJson {
  readonly model: string;
  readonly target: TargetSpec;
  /** `latency`, `memory`, `size` values as the metrics of docs/evaluate.md report them. */
  readonly values: MetricValues;
  readonly notes: readonly string[];
}

export default class Bench extends BaseCommand {
  static override summary =
    "Measure one model: latency percentiles, throughput, peak memory, size.";
  static override description =
    "Times the model on ONNX Runtime (warm-up, then repeats until both --runs and --min-time are reached), measures the peak memory of a fresh process that loads and runs it, and its size on disk with external data. Values and keys are those of the core/latency, core/memory and core/size metrics (docs/evaluate.md).";
  static override examples = [
    "<%= config.bin %> <%= command.id %> model.onnx --shape input_ids=1x128",
    "<%= config.bin %> <%= command.id %> out/selected --runs 50 --min-time 3000 --json",
  ];
  static override enableJsonFlag = true;
  static override args = {
    model: Args.string({ description: "An .onnx file or a bundle folder.", required: true }),
  };
  static override flags = {
    ...targetFlags,
    ...timingFlags,
    memory: Flags.boolean({
      description: "Measure peak memory in a child process (--no-memory skips it).",
      default: true,
      allowNo: true,
    }),
  };

  async run(): Promise<BenchJson> {
    const { args, flags } = await this.parse(Bench);
    const given = targetFrom(flags);
    const batch = await withBatchDefaults([args.model], given.shapes);
    const target = { ...given, shapes: batch.shapes };
    for (const line of batch.said) this.log(`note: ${line} (a batch-like dim without --shape)`);
    const result = await measureFiles({
      reference: args.model,
      metrics: {
        latency: latencyFrom(flags),
        ...(flags.memory ? { memory: { runs: 3 } } : {}),
        size: {},
      },
      target,
      signal: new AbortController().signal,
    });
    throwOnMetricErrors(result);
    const { values, notes } = result.reference;
    this.log(formatValues(values));
    for (const note of notes) this.log(`note: ${note}`);
    return jsonSafe({ model: args.model, target, values, notes });
  }
}
