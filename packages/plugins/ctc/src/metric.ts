import { readFile } from "node:fs/promises";
import {
  type DataRecord,
  DataType,
  defineMetric,
  LatheError,
  type Model,
  type Tensor,
} from "@lathe/core";
import {
  alphabetFromLines,
  type CtcAlphabet,
  ctcGreedyDecode,
  dictionaryLines,
  scoreLines,
} from "./decode.js";
import { recognitionMetricOptionsSchema } from "./generated/options.js";

export interface RecognitionMetricOptions {
  /** The recipe data set (under data:) whose records hold the inputs and the transcripts. */
  data: string;
  /**
   * The record key holding the transcripts: text labels, one per row of the output (a labels
   * file's text becomes a string label: docs/data.md).
   * @default "text"
   */
  labels: string;
  /** The model output holding the CTC scores [rows, steps, classes]; default: the first output. */
  output?: string;
  /**
   * The recognizer's dictionary, relative to the recipe: a text file with one symbol per line,
   * in class order (the blank left out).
   */
  alphabet: string;
  /**
   * Class index of the CTC blank.
   * @integer
   * @minimum 0
   * @default 0
   */
  blank: number;
  /**
   * Symbols of the classes after the dictionary's (PaddleOCR's recognizers add a space: [" "]).
   * @default []
   */
  append: string[];
  /**
   * Compare the lines without leading and trailing whitespace (a recognizer reads the margin
   * beside the text as spaces).
   * @default true
   */
  trim: boolean;
  /**
   * Records to read (0: all of them).
   * @integer
   * @minimum 0
   * @default 0
   */
  samples: number;
}

/**
 * `ctc/recognition`: the task quality of a sequence recognizer trained with CTC (text lines,
 * speech): every record of a data set is recognized, the best class of each step decoded
 * greedily (repeats merged, blanks dropped), and the lines compared with the transcripts that
 * came with the data set: character error rate and the share of exact lines. So a recipe can
 * bound the task, `recognition.cer <= reference + 0.02`, not only the outputs' similarity.
 *
 * An example of a plugin metric: options from the interface above (`lathe plugin schema`),
 * sessions from the context, data and labels from the recipe's data set.
 */
export const recognitionMetric = defineMetric<RecognitionMetricOptions>({
  id: "ctc/recognition",
  summary:
    "CTC greedy decoding against the data set's transcripts: character error rate and exact lines.",
  options: recognitionMetricOptionsSchema,
  values: { cer: "lower", exact: "higher", count: "higher" },
  // the alphabet file is read on every measurement: its content is not in the evaluation's
  // cache key, so the values are not cached
  deterministic: false,
  async measure(candidate, context) {
    const { options } = context;
    const components = [...candidate.components.values()];
    if (components.length !== 1)
      throw new LatheError(
        "RECOGNITION_COMPONENTS",
        `ctc/recognition measures a single-model artifact; this one has ${components.length} components`,
        { hint: "measure the recognizer on its own" },
      );
    const model = components[0]!;
    const alphabet = await readAlphabet(context.resolve(options.alphabet), options);
    const output = outputName(model, options.output);
    const predicted: string[] = [];
    const truth: string[] = [];
    let read = 0;
    const batch: DataRecord[] = [];
    const inputs = new Set(model.graph.inputs.map((v) => v.name));
    const flush = async () => {
      if (batch.length === 0) return;
      const results = await context.sessions.run(model, batch, { outputs: [output] });
      for (const result of results) {
        const scores = result[output]!;
        const classes = scores.dims.at(-1);
        if (scores.dims.length !== 3 || classes !== alphabet.symbols.length)
          throw new LatheError(
            "RECOGNITION_ALPHABET",
            `"${output}" has dims [${scores.dims.join(", ")}]; CTC scores are [rows, steps, classes] with ${alphabet.symbols.length} classes (the alphabet's ${alphabet.symbols.length - 1 - options.append.length} lines, ${options.append.length} appended, the blank)`,
            { hint: "check alphabet:, append: and output: against the recognizer" },
          );
        const lines = ctcGreedyDecode(numbers(scores), scores.dims, alphabet);
        predicted.push(...(options.trim ? lines.map((l) => l.trim()) : lines));
      }
      batch.length = 0;
    };
    for await (const record of context.data(options.data).records()) {
      if (options.samples > 0 && read >= options.samples) break;
      const labels = record[options.labels];
      if (!labels || labels.dataType !== DataType.STRING)
        throw new LatheError(
          "RECOGNITION_LABELS",
          `data set "${options.data}" record ${read}: no text labels under "${options.labels}"`,
          {
            hint: "give the data set transcripts (images/audio: labels: { from: labels.csv, key: text }) and name their key with labels:",
          },
        );
      const text = labels.toStrings();
      truth.push(...(options.trim ? text.map((t) => t.trim()) : text));
      const feeds: Record<string, Tensor> = {};
      for (const [name, tensor] of Object.entries(record))
        if (inputs.has(name)) feeds[name] = tensor;
      batch.push(feeds);
      read++;
      if (batch.length >= 8) await flush();
    }
    await flush();
    if (predicted.length !== truth.length)
      throw new LatheError(
        "RECOGNITION_LABELS",
        `data set "${options.data}": ${truth.length} transcripts for ${predicted.length} recognized rows of "${output}"`,
        { hint: "give one transcript per row of the output" },
      );
    const score = scoreLines(predicted, truth);
    return { cer: score.cer, exact: score.exact, count: score.count };
  },
});

async function readAlphabet(
  path: string,
  options: Pick<RecognitionMetricOptions, "blank" | "append">,
): Promise<CtcAlphabet> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new LatheError(
      "RECOGNITION_ALPHABET",
      `cannot read the alphabet ${path}: ${(error as Error).message}`,
      {
        hint: "name the recognizer's dictionary file (one symbol per line), relative to the recipe",
      },
    );
  }
  return alphabetFromLines(dictionaryLines(text), options);
}

function outputName(model: Model, wanted: string | undefined): string {
  const names = model.graph.outputs.map((o) => o.name);
  const output = wanted ?? names[0];
  if (!output || !names.includes(output))
    throw new LatheError("RECOGNITION_OUTPUT", `the model has no output "${wanted}"`, {
      hint: `name one of: ${names.join(", ")}`,
    });
  return output;
}

/** Scores as numbers (float16 outputs decoded). */
function numbers(tensor: Tensor): ArrayLike<number> {
  return tensor.toArray() as ArrayLike<number>;
}
