import { checkRecordFits } from "../data/fit.js";
import { LatheError } from "../diagnostics.js";
import { accuracyOptionsSchema } from "../generated/options.js";
import { defineMetric } from "../plugin/define.js";
import type { DataRecord } from "../plugin/types.js";
import { openSession } from "../runtime/index.js";
import { artifactComponents } from "./artifact.js";

/** Options of `core/accuracy`. */
export interface AccuracyOptions {
  /** The recipe data set (under `data:`) whose records hold the inputs and the labels. */
  data: string;
  /**
   * The record key holding the class labels (integers, one per row of the output).
   * @default "label"
   */
  labels: string;
  /** The model output holding class scores, classes on the last axis (default: the first output). */
  output?: string;
  /**
   * Records to read (0: all of them).
   * @integer
   * @minimum 0
   * @default 0
   */
  samples: number;
}

/**
 * Top-1 accuracy against the labels that come with the data set: the task's quality, not the
 * output's similarity to the reference. Each record's label key is left out of the feeds; the
 * output's rows (every axis but the last) are compared with the labels in order.
 */
export const accuracyMetric = defineMetric<AccuracyOptions>({
  id: "core/accuracy",
  summary: "Top-1 accuracy against the labels of a data set (the task's quality).",
  options: accuracyOptionsSchema,
  values: { top1: "higher", count: "higher" },
  deterministic: true,
  async measure(_candidate, context) {
    const { options } = context;
    const components = [...(await artifactComponents(context.candidatePath)).values()];
    if (components.length !== 1)
      throw new LatheError(
        "ACCURACY_COMPONENTS",
        `core/accuracy measures a single-model artifact; this one has ${components.length} components`,
        { hint: "measure a classifier, or write a plugin metric for the pipeline" },
      );
    const session = await openSession(components[0]!, { target: context.target });
    try {
      const inputs = new Set(session.inputs.map((i) => i.name));
      const output = options.output ?? session.outputs[0]?.name;
      if (!output || !session.outputs.some((o) => o.name === output))
        throw new LatheError("ACCURACY_OUTPUT", `the model has no output "${options.output}"`, {
          hint: `name one of: ${session.outputs.map((o) => o.name).join(", ")}`,
        });
      let correct = 0;
      let count = 0;
      let read = 0;
      for await (const record of context.data(options.data).records()) {
        if (options.samples > 0 && read >= options.samples) break;
        read++;
        const labels = record[options.labels];
        if (!labels)
          throw new LatheError(
            "ACCURACY_LABELS",
            `data set "${options.data}" record ${read - 1} has no "${options.labels}"`,
            { hint: "name the record key that holds the labels with labels: <key>" },
          );
        if (read === 1) checkRecordFits(record, session.inputs, options.data);
        const feeds: Record<string, DataRecord[string]> = {};
        for (const [name, tensor] of Object.entries(record))
          if (inputs.has(name)) feeds[name] = tensor;
        const scores = (await session.run(feeds, [output]))[output]!;
        const classes = scores.dims.at(-1) ?? 1;
        const values = scores.toArray();
        const want = Array.from(labels.toArray(), Number);
        const rows = values.length / classes;
        if (want.length !== rows)
          throw new LatheError(
            "ACCURACY_LABELS",
            `record ${read - 1}: ${want.length} labels for ${rows} rows of "${output}"`,
            { hint: "give one label per row of the output (every axis but the last)" },
          );
        for (let r = 0; r < rows; r++) {
          let best = 0;
          for (let c = 1; c < classes; c++)
            if (Number(values[r * classes + c]) > Number(values[r * classes + best])) best = c;
          if (best === want[r]) correct++;
          count++;
        }
      }
      return { top1: count > 0 ? correct / count : Number.NaN, count };
    } finally {
      await session.release();
    }
  },
});
