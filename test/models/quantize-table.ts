import {
  type DataRecord,
  encodeModel,
  loadModel,
  type PassDefinition,
  runPassStandalone,
  singleModelBundle,
} from "@lathe/core";
import quantize from "@lathe/plugin-quantize";
import { ocrModel, taskData, vadModel } from "./real-models.js";
import {
  batches,
  detectSpeech,
  ocrAlphabet,
  openSession,
  readSpeech,
  readTextLines,
  recognize,
  speechF1,
} from "./tasks.js";

/**
 * Every quantization pass on each real trained model, scored on the model's own task against
 * fp32: what bench/quantize/real-models.ts prints and test/models/quantize-floors.test.ts holds
 * to the issue's floors.
 */

export interface Variant {
  readonly name: string;
  readonly pass: string;
  readonly options: Readonly<Record<string, unknown>>;
  /** The issue's floor: at most this much worse than fp32, absolute; 0: the same result. */
  readonly floor?: number;
}

export const VARIANTS: readonly Variant[] = [
  { name: "dynamic-int8", pass: "quantize/dynamic-int8", options: {}, floor: 0.01 },
  ...(["minmax", "percentile", "entropy"] as const).map((calibrator) => ({
    name: `static-int8 ${calibrator}`,
    pass: "quantize/static-int8",
    options: { calibration: "calibration", requireCalibration: true, calibrator },
  })),
  {
    // TensorRT's entropy as its reference computes it, without the squared-error guard
    name: "static-int8 entropy unguarded",
    pass: "quantize/static-int8",
    options: {
      calibration: "calibration",
      requireCalibration: true,
      calibrator: "entropy",
      entropyGuard: false,
    },
  },
  { name: "weight-only int8", pass: "quantize/weight-only", options: { bits: 8 }, floor: 0.005 },
  { name: "weight-only int4", pass: "quantize/weight-only", options: { bits: 4 } },
  { name: "fp16", pass: "quantize/fp16", options: {}, floor: 0 },
  {
    // automatic mixed precision: the layers that cost most on the calibration split stay
    // float32, as few as keep the output within the default maxError (1e-3 relative L2)
    name: "fp16 mixed",
    pass: "quantize/fp16",
    options: { mixed: { calibration: "calibration" } },
  },
];

/** Static int8: within 2 % for at least one calibrator; none below 80 % of fp32 unwarned. */
export const STATIC_FLOOR = 0.02;
export const COLLAPSE = 0.8;

export interface TaskScore {
  /** The task's quality, higher is better: 1 − CER for the recognizer, speech-frame F1 for the detector. */
  readonly quality: number;
  /** The numbers behind it, for the table. */
  readonly detail: string;
}

export interface RealTask {
  readonly model: string;
  readonly path: string;
  readonly measure: string;
  readonly calibration: readonly DataRecord[];
  score(model: string | Uint8Array): Promise<TaskScore>;
}

/** The recognizer on rendered text lines: quality 1 − CER over the evaluation lines. */
export async function ocrTask(): Promise<RealTask | string> {
  const model = ocrModel();
  if (typeof model === "string") return model;
  const data = taskData("text");
  if (typeof data === "string") return data;
  const alphabet = ocrAlphabet(model);
  const evaluation = await readTextLines(data.folder, "evaluation");
  return {
    model: "PP-OCRv4 recognizer",
    path: model.path,
    measure: "1 − CER",
    calibration: batches((await readTextLines(data.folder, "calibration")).images, "x", 4),
    async score(candidate) {
      const session = await openSession(candidate);
      try {
        const r = await recognize(session, evaluation, alphabet);
        return {
          quality: 1 - r.cer,
          detail: `CER ${r.cer.toFixed(4)}, exact ${Math.round(r.exact * r.count)}/${r.count}`,
        };
      } finally {
        await session.release();
      }
    },
  };
}

/** The detector on synthesized speech: quality = F1 of the speech frames. */
export async function vadTask(): Promise<RealTask | string> {
  const model = vadModel();
  if (typeof model === "string") return model;
  const data = taskData("speech");
  if (typeof data === "string") return data;
  const evaluation = await readSpeech(data.folder, "evaluation");
  // real calibration records: chunks of the calibration clips with the states fp32 carried there
  const reference = await openSession(model.path);
  let calibration: DataRecord[];
  try {
    const clips = await readSpeech(data.folder, "calibration");
    calibration = (await detectSpeech(reference, clips, 8)).feeds;
  } finally {
    await reference.release();
  }
  return {
    model: "Silero VAD v5",
    path: model.path,
    measure: "speech-frame F1",
    calibration,
    async score(candidate) {
      const session = await openSession(candidate);
      try {
        const s = speechF1(evaluation, (await detectSpeech(session, evaluation)).probabilities);
        return {
          quality: s.f1,
          detail: `F1 ${s.f1.toFixed(4)} (P ${s.precision.toFixed(3)}, R ${s.recall.toFixed(3)})`,
        };
      } finally {
        await session.release();
      }
    },
  };
}

export interface Row {
  readonly variant: Variant;
  readonly score?: TaskScore;
  /** Quality − fp32's quality. */
  readonly delta?: number;
  /** Warnings the pass logged (they reach the report's notes). */
  readonly warnings: readonly string[];
  readonly seconds: number;
  /** The pass changed the model; when not, `note` says why (its skip statistics). */
  readonly modified?: boolean;
  /** Why the model is unchanged, or what mixed precision kept float32. */
  readonly note?: string;
  /** The written model's size. */
  readonly bytes?: number;
  /** The pass declined (a LatheError) or failed: its message. */
  readonly error?: string;
}

function passOf(id: string): PassDefinition {
  const pass = quantize.passes?.find((p) => p.id === id);
  if (!pass) throw new Error(`@lathe/plugin-quantize has no pass ${id}`);
  return pass as PassDefinition;
}

/** Quantizes the task's model as the engine would and scores the result. */
export async function runVariant(task: RealTask, variant: Variant, fp32: TaskScore): Promise<Row> {
  const start = performance.now();
  try {
    const { result, logs } = await runPassStandalone(
      passOf(variant.pass),
      singleModelBundle(await loadModel(task.path)),
      { options: variant.options, data: { calibration: task.calibration } },
    );
    const bytes = encodeModel(result.bundle.components.values().next().value!);
    const score = await task.score(bytes);
    const skips = Object.entries(result.statistics ?? {})
      .filter(([key, value]) => key.startsWith("skipped: ") && value)
      // the reason without its parenthesized explanation: a table cell
      .map(([key, value]) => `${value} ${key.replace(/ \(.*\)$/, "")}`);
    const kept = result.statistics?.["mixed: layers kept fp32"];
    const note = !result.modified
      ? `unchanged: ${skips.join("; ") || "nothing to do"}`
      : kept !== undefined
        ? `${kept} layers fp32`
        : undefined;
    return {
      variant,
      score,
      modified: result.modified,
      ...(note ? { note } : {}),
      bytes: bytes.length,
      delta: score.quality - fp32.quality,
      warnings: logs.filter((l) => l.level === "warn").map((l) => l.message),
      seconds: (performance.now() - start) / 1000,
    };
  } catch (error) {
    return {
      variant,
      warnings: [],
      seconds: (performance.now() - start) / 1000,
      error: error instanceof Error ? error.message.split("\n")[0]! : String(error),
    };
  }
}

/** The table as markdown: one row per variant. */
export function formatTable(task: RealTask, fp32: TaskScore, rows: readonly Row[]): string {
  const lines = [
    `${task.model} (${task.measure}; fp32: ${fp32.detail})`,
    "",
    "| pass | task result | quality − fp32 | floor | MB | warnings | s |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const row of rows) {
    const floor =
      row.variant.floor === undefined
        ? row.variant.pass === "quantize/static-int8"
          ? `≥ −${STATIC_FLOOR} (one)`
          : ""
        : row.variant.floor === 0
          ? "identical"
          : `≥ −${row.variant.floor}`;
    lines.push(
      `| ${row.variant.name} | ${row.error ? `failed: ${row.error}` : `${row.score!.detail}${row.note ? ` (${row.note})` : ""}`} | ${
        row.delta === undefined ? "" : row.delta.toFixed(4)
      } | ${floor} | ${row.bytes === undefined ? "" : (row.bytes / 1e6).toFixed(2)} | ${row.warnings.length} | ${row.seconds.toFixed(1)} |`,
    );
  }
  return lines.join("\n");
}
