import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { convertOpset, decodeModel, encodeModel } from "@lathe/core";
import * as ort from "onnxruntime-node";
import { findTorchPython, runScriptIntoCache } from "../helpers/python-cache.js";

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

/** How a test fills an input: token ids, an attention mask of ones, positions, or floats. */
export type Fill = "tokens" | "mask" | "positions" | "normal";

export interface CorpusInput {
  readonly name: string;
  readonly dtype: "int64" | "float32";
  readonly fill: Fill;
  readonly vocab?: number;
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
  let seed = (options.seed ?? 1) >>> 0 || 1;
  const random = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
  const padOf = (b: number) => options.padLeft?.[b] ?? 0;
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of model.inputs) {
    const shape = input.dims.map((d) => (typeof d === "number" ? d : dims[d]!));
    const count = shape.reduce((a, b) => a * b, 1);
    if (input.dtype === "float32") {
      const data = Float32Array.from({ length: count }, () => random() * 2 - 1);
      feeds[input.name] = new ort.Tensor("float32", data, shape);
      continue;
    }
    const data = new BigInt64Array(count);
    const [rows, cols] = [shape[0]!, shape[1] ?? 1];
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++) {
        const i = r * cols + c;
        if (input.fill === "tokens") data[i] = BigInt(Math.floor(random() * (input.vocab ?? 2)));
        else if (input.fill === "mask") data[i] = c < padOf(r) ? 0n : 1n;
        else {
          // positions of the new tokens: after the cache, counted from the row's first real token
          const offset = cols === dims.sequence ? (dims.past ?? 0) : 0;
          data[i] = BigInt(Math.max(0, offset + c - padOf(r)));
        }
      }
    feeds[input.name] = new ort.Tensor("int64", data, shape);
  }
  return feeds;
}
