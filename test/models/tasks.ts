import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { audioSource, type DataRecord, DataType, imagesSource, Tensor } from "@lathe/core";
import {
  float32Tensor,
  floatValues,
  int64Tensor,
  openOrtSession,
  ortFeeds,
} from "@lathe/core/testing";
import {
  alphabetFromLines,
  type CtcAlphabet,
  ctcGreedyDecode,
  dictionaryLines,
  type RecognitionScore,
  scoreLines,
} from "@lathe/plugin-ctc";
import type * as ort from "onnxruntime-node";
import type { OcrModel } from "./real-models.js";

/**
 * The task checks of the real trained models: each model's own quality measure on data with a
 * known truth (test/models/make-data.py), for fp32 and for every quantized variant alike.
 */

export type Split = "calibration" | "evaluation";

/** A CPU session with LATHE_TASK_THREADS intra-op threads (default 1). */
export function openSession(model: string | Uint8Array): Promise<ort.InferenceSession> {
  return openOrtSession(model, {
    intraOpNumThreads: Number(process.env.LATHE_TASK_THREADS ?? 1),
    logSeverityLevel: 3,
  });
}

// ---- text lines ------------------------------------------------------------------------------

export interface TextLines {
  /** The recognizer's input, [n, 3, 48, 320] in [-1, 1]. */
  readonly images: Tensor;
  readonly truth: readonly string[];
}

/**
 * The `images` data source's options for the rendered lines, PaddleOCR's preprocessing: BGR,
 * (x / 255 − 0.5) / 0.5; the transcripts come with them from `labels.csv` (key `text`). The
 * recipe example (recipes/ocr-int8-cer.yaml) reads them the same way.
 */
export const TEXT_LINE_IMAGES = {
  input: "x",
  channels: "bgr",
  mean: [0.5],
  std: [0.5],
  labels: { from: "labels.csv", key: "text" },
} as const;

export async function readTextLines(folder: string, split: Split): Promise<TextLines> {
  const dir = join(folder, split);
  const set = imagesSource.open(
    { path: ".", ...TEXT_LINE_IMAGES, mean: [0.5], std: [0.5] },
    { resolve: (path) => resolve(dir, path) },
  );
  const rows: Float32Array[] = [];
  const truth: string[] = [];
  let dims: readonly number[] = [];
  for await (const record of set.records()) {
    dims = record.x!.dims;
    rows.push(record.x!.toArray() as Float32Array);
    truth.push(record.text!.toStrings()[0]!);
  }
  const images = new Float32Array(rows.reduce((n, r) => n + r.length, 0));
  let at = 0;
  for (const row of rows) {
    images.set(row, at);
    at += row.length;
  }
  return {
    images: Tensor.fromArray(DataType.FLOAT, [rows.length, ...dims.slice(1)], images),
    truth,
  };
}

/** PaddleOCR's classes: blank, the dictionary, a space. */
export function ocrAlphabet(model: OcrModel): CtcAlphabet {
  return alphabetFromLines(dictionaryLines(readFileSync(model.dictionary, "utf8")), {
    append: [" "],
  });
}

/** Rows of a float tensor's first axis, `size` at a time, as float32 records keyed `name`. */
export function batches(tensor: Tensor, name: string, size: number): DataRecord[] {
  const [n, ...rest] = tensor.dims as number[];
  const per = rest.reduce((a, b) => a * b, 1);
  const values = tensor.toArray() as Float32Array;
  const records: DataRecord[] = [];
  for (let start = 0; start < n!; start += size) {
    const rows = Math.min(size, n! - start);
    const slice = values.slice(start * per, (start + rows) * per);
    records.push({ [name]: Tensor.fromArray(DataType.FLOAT, [rows, ...rest], slice) });
  }
  return records;
}

/** Recognizes every line (8 per run) and scores it against the truth. */
export async function recognize(
  session: ort.InferenceSession,
  lines: TextLines,
  alphabet: CtcAlphabet,
): Promise<RecognitionScore & { lines: string[] }> {
  const recognized: string[] = [];
  for (const record of batches(lines.images, "x", 8)) {
    const x = record.x!;
    const output = (await session.run(ortFeeds({ x })))[session.outputNames[0]!]!;
    // the white margin right of the text reads as a space: lines are compared trimmed
    for (const line of ctcGreedyDecode(floatValues(output), output.dims, alphabet))
      recognized.push(line.trim());
  }
  return { ...scoreLines(recognized, lines.truth), lines: recognized };
}

// ---- speech ----------------------------------------------------------------------------------

export const FRAME = 512;
export const CONTEXT = 64;
const STATE = 128;

export interface SpeechClip {
  readonly samples: Float32Array;
  /** One 0/1 per 512-sample frame: speech where a sentence was spoken. */
  readonly labels: Uint8Array;
}

/**
 * The clips through the `audio` data source (resampled from espeak-ng's 22.05 kHz to the 16 kHz
 * the detector reads), each with its frame labels from `NNN.labels`.
 */
export async function readSpeech(folder: string, split: Split): Promise<SpeechClip[]> {
  const dir = join(folder, split);
  const set = audioSource.open(
    { path: ".", input: "audio", sampleRate: 16000, layout: "T" },
    { resolve: (path) => resolve(dir, path) },
  );
  const samples: Float32Array[] = [];
  for await (const record of set.records()) samples.push(record.audio!.toArray() as Float32Array);
  // the source reads the folder's WAV files sorted by path, as make-data.py numbers them
  return samples.map((clip, i) => {
    const file = join(dir, `${String(i).padStart(3, "0")}.labels`);
    const text = readFileSync(file, "utf8").trim();
    return { samples: clip, labels: Uint8Array.from(text, (c) => (c === "1" ? 1 : 0)) };
  });
}

/**
 * Runs the detector over every clip as a stream (all clips side by side as the batch, state
 * carried), as its runtime wrapper does: each call sees the last 64 samples of the previous
 * chunk, then 512 new ones. Returns each clip's speech probability per frame, and, when
 * `record` is given, the feeds of every record-th step (real inputs and recurrent states, for
 * calibration).
 */
export async function detectSpeech(
  session: ort.InferenceSession,
  clips: readonly SpeechClip[],
  record = 0,
): Promise<{ probabilities: Float32Array[]; feeds: DataRecord[] }> {
  const n = clips.length;
  const steps = Math.max(...clips.map((c) => Math.floor(c.samples.length / FRAME)));
  const probabilities = clips.map(() => new Float32Array(steps));
  let state = new Float32Array(2 * n * STATE);
  const sr = int64Tensor([16000], []);
  const feeds: DataRecord[] = [];
  for (let t = 0; t < steps; t++) {
    const input = new Float32Array(n * (CONTEXT + FRAME));
    clips.forEach((clip, b) => {
      const start = t * FRAME - CONTEXT;
      for (let i = 0; i < CONTEXT + FRAME; i++)
        input[b * (CONTEXT + FRAME) + i] = clip.samples[start + i] ?? 0;
    });
    if (record > 0 && t % record === record - 1)
      feeds.push({
        input: Tensor.fromArray(DataType.FLOAT, [n, CONTEXT + FRAME], input),
        state: Tensor.fromArray(DataType.FLOAT, [2, n, STATE], state.slice()),
        sr: Tensor.fromArray(DataType.INT64, [], [16000n]),
      });
    const out = await session.run({
      input: float32Tensor(input, [n, CONTEXT + FRAME]),
      state: float32Tensor(state, [2, n, STATE]),
      sr,
    });
    const p = floatValues(out.output!);
    for (let b = 0; b < n; b++) probabilities[b]![t] = p[b]!;
    state = Float32Array.from(floatValues(out.stateN!));
  }
  return { probabilities, feeds };
}

export interface FrameScore {
  readonly f1: number;
  readonly precision: number;
  readonly recall: number;
}

/** F1 of the frames called speech (probability ≥ threshold) against the labels. */
export function speechF1(
  clips: readonly SpeechClip[],
  probabilities: readonly Float32Array[],
  threshold = 0.5,
): FrameScore {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  clips.forEach((clip, b) => {
    for (let f = 0; f < clip.labels.length; f++) {
      const said = probabilities[b]![f]! >= threshold;
      const truth = clip.labels[f] === 1;
      if (said && truth) tp++;
      else if (said) fp++;
      else if (truth) fn++;
    }
  });
  const precision = tp / Math.max(1, tp + fp);
  const recall = tp / Math.max(1, tp + fn);
  return { f1: (2 * precision * recall) / Math.max(1e-12, precision + recall), precision, recall };
}
