import type { MetricValues, TargetSpec } from "@lathe/core";
import { Args, Flags } from "@oclif/core";
import { BaseCommand } from "../base-command.js";
import { withBatchDefaults } from "../evaluate/batch-default.js";
import { latencyFrom, targetFlags, targetFrom, timingFlags } from "../evaluate/flags.js";
import { jsonSafe, measureFiles, throwOnMetricErrors } from "../evaluate/measure.js";
import { formatValue } from "../format/evaluation.js";
import { formatTable } from "../format/table.js";

export interface CompareJson {
  readonly reference: { readonly model: string; readonly values: MetricValues };
  readonly candidates: readonly {
    readonly model: string;
    readonly values: MetricValues;
    /** Candidate ÷ reference for latency p50 and size in bytes. */
    readonly latencyRatio?: number;
    readonly sizeRatio: number;
  }[];
  readonly target: TargetSpec;
}

const FIDELITY = ["relL2", "cosine", "maxAbs", "top1", "top5", "kl", "psnr"];

export default class Compare extends BaseCommand {
  static override summary =
    "Compare models with a reference on the same inputs: fidelity, latency ratio, size ratio.";
  static override description =
    "Runs the reference and each candidate on the same generated inputs and reports the core/fidelity values (relative L2, cosine, max abs error; KL, top-1 and top-5 agreement for logits; PSNR for 4-D outputs), the candidate's p50 latency over the reference's, and its size over the reference's (docs/evaluate.md).";
  static override examples = [
    "<%= config.bin %> <%= command.id %> model.onnx out/int8/model.onnx --shape input_ids=1x32",
    "<%= config.bin %> <%= command.id %> model.onnx out/int4 out/int8 --no-latency --json",
  ];
  static override enableJsonFlag = true;
  static override strict = false;
  static override args = {
    reference: Args.string({
      description: "The reference: an .onnx file or a bundle folder.",
      required: true,
    }),
    candidate: Args.string({ description: "A candidate (more may follow).", required: true }),
  };
  static override flags = {
    ...targetFlags,
    ...timingFlags,
    samples: Flags.integer({ description: "Input records to compare on.", default: 4, min: 1 }),
    latency: Flags.boolean({
      description: "Time the models too (--no-latency compares fidelity and size only).",
      default: true,
      allowNo: true,
    }),
  };

  async run(): Promise<CompareJson> {
    const { args, argv, flags } = await this.parse(Compare);
    const candidates = (argv as string[]).slice(1);
    const given = targetFrom(flags);
    const batch = await withBatchDefaults([args.reference, ...candidates], given.shapes);
    const target = { ...given, shapes: batch.shapes };
    for (const line of batch.said) this.log(`note: ${line} (a batch-like dim without --shape)`);
    const result = await measureFiles({
      reference: args.reference,
      candidates,
      metrics: {
        fidelity: { samples: flags.samples },
        ...(flags.latency ? { latency: latencyFrom(flags) } : {}),
        size: {},
      },
      target,
      signal: new AbortController().signal,
    });
    throwOnMetricErrors(result);
    const ref = result.reference.values;
    const rows = result.candidates.map((c, i) => {
      const p50 = c.values.latency?.p50;
      const refP50 = ref.latency?.p50;
      return {
        model: candidates[i]!,
        values: c.values,
        ...(p50 !== undefined && refP50 ? { latencyRatio: p50 / refP50 } : {}),
        sizeRatio: c.values.size!.bytes! / ref.size!.bytes!,
      };
    });
    const present = FIDELITY.filter((k) => rows.some((r) => r.values.fidelity?.[k] !== undefined));
    this.log(`reference: ${args.reference}`);
    this.log(
      formatTable(
        [
          { header: "candidate" },
          ...present.map((k) => ({ header: k, align: "right" as const })),
          ...(flags.latency
            ? [
                { header: "p50", align: "right" as const },
                { header: "latency ×", align: "right" as const },
              ]
            : []),
          { header: "size", align: "right" },
          { header: "size ×", align: "right" },
        ],
        rows.map((r) => [
          r.model,
          ...present.map((k) => formatValue("fidelity", k, r.values.fidelity?.[k])),
          ...(flags.latency
            ? [formatValue("latency", "p50", r.values.latency?.p50), ratio(r.latencyRatio)]
            : []),
          formatValue("size", "bytes", r.values.size?.bytes),
          ratio(r.sizeRatio),
        ]),
      ),
    );
    for (const model of [result.reference, ...result.candidates]) {
      for (const note of model.notes) this.log(`note (${model.id}): ${note}`);
    }
    return jsonSafe({
      reference: { model: args.reference, values: ref },
      candidates: rows,
      target,
    });
  }
}

function ratio(value: number | undefined): string {
  return value === undefined ? "–" : `${value.toFixed(2)}×`;
}
