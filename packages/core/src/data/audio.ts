import { errors } from "../diagnostics.js";
import { audioOptionsSchema } from "../generated/options.js";
import { DataType } from "../ir/dtype.js";
import { Tensor } from "../ir/tensor.js";
import { defineDataSource } from "../plugin/define.js";
import type { DataRecord } from "../plugin/types.js";
import { dataKeyPaths, listDataFiles, readDataFile } from "./files.js";
import { type FileLabels, fileLabels, labelsKeyPaths } from "./labels.js";
import { resample } from "./resample.js";
import { AUDIO_EXTENSIONS, decodeWav } from "./wav.js";

/** Fixed-length windows cut from each file. */
export interface AudioWindow {
  /**
   * Samples per window, at `sampleRate`.
   * @integer @minimum 1
   */
  length: number;
  /**
   * Samples from one window's start to the next's; default: `length` (no overlap).
   * @integer @minimum 1
   */
  hop?: number;
  /**
   * The last window of a file, when shorter: `zeros` pads it with silence, `drop` leaves it out.
   * @default "zeros"
   */
  last?: "zeros" | "drop";
}

/** Options of the `audio` data source. */
export interface AudioOptions {
  /**
   * WAV files, relative to the recipe: a folder (every .wav under it), a glob, a file, or a
   * list of them. Records follow the sorted paths.
   */
  path: string | string[];
  /** The model input the samples feed (the record key). */
  input: string;
  /**
   * The rate the model reads, in Hz: files at another rate are resampled (band-limited sinc,
   * as torchaudio). Default: each file's own rate.
   * @integer @minimum 1
   */
  sampleRate?: number;
  /** Cut each file into fixed windows; without it each whole file is one record. */
  window?: AudioWindow;
  /**
   * Tensor dims: `NT` [1, samples], `NCT` [1, 1, samples] (1-D convolutions), `T` [samples].
   * @default "NT"
   */
  layout?: "NT" | "NCT" | "T";
  /**
   * The element type.
   * @default "float32"
   */
  dtype?: "float32" | "float16";
  /** Labels for task metrics, one per file (every window of a file gets it): docs/data.md. */
  labels?: FileLabels;
}

/**
 * Audio from WAV files, mono, in [-1, 1): one record per file or per window,
 * `{ [input]: [1, samples] }` (plus the label).
 */
export const audioSource = defineDataSource<AudioOptions>({
  id: "audio",
  summary:
    "WAV files (PCM or float, mono or mixed down), resampled, whole or in fixed windows, with labels",
  options: audioOptionsSchema,
  open(options, context) {
    const files = () => listDataFiles(options.path, context.resolve, AUDIO_EXTENSIONS, "WAV");
    const tensor = (samples: Float32Array) => {
      const dims =
        options.layout === "T"
          ? [samples.length]
          : options.layout === "NCT"
            ? [1, 1, samples.length]
            : [1, samples.length];
      return Tensor.fromArray(
        options.dtype === "float16" ? DataType.FLOAT16 : DataType.FLOAT,
        dims,
        samples,
      );
    };
    return {
      name: "audio",
      async *records(): AsyncIterable<DataRecord> {
        const list = await files();
        const labelOf = await fileLabels(options.labels, list, context.resolve);
        const labelKey = options.labels?.key ?? "label";
        for (const file of list) {
          const decoded = decodeWav(await readDataFile(file), file);
          const rate = options.sampleRate ?? decoded.sampleRate;
          const samples = resample(decoded.samples, decoded.sampleRate, rate);
          const label = labelOf(file);
          for (const piece of windows(samples, options.window, file)) {
            const record: Record<string, Tensor> = { [options.input]: tensor(piece) };
            if (label) record[labelKey] = label;
            yield record;
          }
        }
      },
    };
  },
  async files(options, context) {
    return [
      ...(await dataKeyPaths(options.path, context.resolve, AUDIO_EXTENSIONS)),
      ...labelsKeyPaths(options.labels, context.resolve),
    ];
  },
});

/** The windows of one file: starts at 0, hop apart; the last padded with zeros or dropped. */
export function windows(
  samples: Float32Array,
  window: AudioWindow | undefined,
  file: string,
): Float32Array[] {
  if (!window) return [samples];
  const { length } = window;
  const hop = window.hop ?? length;
  const pad = (window.last ?? "zeros") === "zeros";
  const out: Float32Array[] = [];
  for (let start = 0; start < samples.length; start += hop) {
    const end = start + length;
    if (end <= samples.length) {
      out.push(samples.slice(start, end));
      if (end === samples.length) break;
      continue;
    }
    if (pad) {
      const padded = new Float32Array(length);
      padded.set(samples.subarray(start));
      out.push(padded);
    }
    break;
  }
  if (out.length === 0 && samples.length > 0 && !pad)
    throw errors.dataOptionsInvalid(
      file,
      `the file has ${samples.length} samples, fewer than one window (${length}), and window.last is drop`,
      "use a shorter window, set window.last: zeros, or remove the file",
    );
  return out;
}
