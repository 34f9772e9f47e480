import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCpuSessions, type DataRecord, DataType, type Model, Tensor } from "@lathe/core";
import { findTorchPython, runScriptIntoCache } from "../helpers/python-cache.js";

/**
 * A small language model trained on real English text: `train.py` (beside this file) trains a
 * byte-level GPT-2 with Debian's PyTorch on the license texts of /usr/share/common-licenses and
 * exports it with torch.onnx. It is made on first use into a cache folder keyed by the script,
 * the texts and the python (`LATHE_LM_DIR` overrides the folder), so it is always the script's
 * output: a generated artifact, never committed.
 */

const SCRIPT = new URL("./train.py", import.meta.url).pathname;
const LICENSES = "/usr/share/common-licenses";

export const LM_UNAVAILABLE =
  "PyTorch is not installed (apt-get install python3-torch python3-onnx, or set LATHE_PYTHON to a python with torch and onnx): the trained language model is skipped";

export interface TrainedLm {
  readonly path: string;
  /** Held-out text (never trained on), and text for calibration (never trained on either). */
  readonly evaluation: Uint8Array;
  readonly calibration: Uint8Array;
  readonly manifest: {
    readonly config: Record<string, number>;
    readonly files: Record<string, string[]>;
    readonly steps: number;
    readonly trainSeconds: number;
    /** PyTorch's own measure of the held-out bits per byte, 128-byte windows. */
    readonly heldOutBitsPerByte: number;
  };
}

let cached: TrainedLm | undefined;

/** Why the model cannot be made here (tests skip with it), or undefined when it can. */
export function trainedLmUnavailable(): string | undefined {
  if (!findPython()) return LM_UNAVAILABLE;
  if (!existsSync(LICENSES))
    return `${LICENSES} is missing (Debian's base-files): no text to train on; the trained language model is skipped`;
  return undefined;
}

/**
 * The trained model, trained on first use (about a minute on two idle cores with OpenBLAS, see
 * README.md), then read from the cache.
 */
export function loadTrainedLm(): TrainedLm {
  cached ??= build();
  return cached;
}

function build(): TrainedLm {
  const python = findPython();
  const why = trainedLmUnavailable();
  if (!python || why) throw new Error(why ?? LM_UNAVAILABLE);
  const digest = createHash("sha256").update(readFileSync(SCRIPT)).update(python);
  for (const name of readdirSync(LICENSES).sort()) {
    const file = join(LICENSES, name);
    if (statSync(file).isFile()) digest.update(name).update(readFileSync(file));
  }
  const folder =
    process.env.LATHE_LM_DIR ?? join(tmpdir(), "lathe-lm", digest.digest("hex").slice(0, 16));
  if (!existsSync(join(folder, "manifest.json"))) {
    const failure = runScriptIntoCache({ python, script: SCRIPT, folder, timeoutMs: 900_000 });
    if (failure) throw new Error(failure);
  }
  return {
    path: join(folder, "model.onnx"),
    evaluation: readFileSync(join(folder, "evaluation.bin")),
    calibration: readFileSync(join(folder, "calibration.bin")),
    manifest: JSON.parse(readFileSync(join(folder, "manifest.json"), "utf8")),
  };
}

let python: string | null | undefined;

function findPython(): string | undefined {
  if (python === undefined) python = findTorchPython() ?? null;
  return python ?? undefined;
}

/** The context the model was trained at: every window is this long. */
export const WINDOW = 128;

/** `text` cut into non-overlapping windows of `WINDOW` bytes, each one `input_ids` record [1, WINDOW]. */
export function textRecords(text: Uint8Array, limit = Number.POSITIVE_INFINITY): DataRecord[] {
  const records: DataRecord[] = [];
  for (let start = 0; start + WINDOW + 1 < text.length && records.length < limit; start += WINDOW) {
    const ids = BigInt64Array.from(text.subarray(start, start + WINDOW), (b) => BigInt(b));
    records.push({ input_ids: Tensor.fromArray(DataType.INT64, [1, WINDOW], ids) });
  }
  return records;
}

/**
 * Bits per byte of `text` under the model on ONNX Runtime (CPU): in every window, each byte after
 * the first is scored by the logits of the position before it (the same windows train.py
 * scores, so fp32 agrees with PyTorch's number).
 */
export async function bitsPerByte(model: Model, text: Uint8Array): Promise<number> {
  const records = textRecords(text);
  const sessions = createCpuSessions({ threads: 1 });
  const session = await sessions.open!(model);
  let nats = 0;
  let count = 0;
  try {
    for (const record of records) {
      const ids = record.input_ids?.toArray() as BigInt64Array;
      const out = await session.run(record, ["logits"]);
      const logits = out.logits?.toArray() as Float32Array;
      const vocab = logits.length / WINDOW;
      for (let t = 0; t + 1 < WINDOW; t++) {
        const row = logits.subarray(t * vocab, (t + 1) * vocab);
        let max = Number.NEGATIVE_INFINITY;
        for (const v of row) max = Math.max(max, v);
        let sum = 0;
        for (const v of row) sum += Math.exp(v - max);
        const next = Number(ids[t + 1]);
        nats += Math.log(sum) + max - (row[next] as number);
        count++;
      }
    }
  } finally {
    await session.release();
  }
  return nats / count / Math.LN2;
}
