import { readFile } from "node:fs/promises";
import { errors } from "../diagnostics.js";
import {
  jsonOptionsSchema,
  npyOptionsSchema,
  npzOptionsSchema,
  pbOptionsSchema,
  randomOptionsSchema,
} from "../generated/options.js";
import { type DataType, dataTypeFromName } from "../ir/dtype.js";
import type { Tensor } from "../ir/tensor.js";
import { defineDataSource } from "../plugin/define.js";
import type { DataRecord, DataSet } from "../plugin/types.js";
import { generateInputs } from "../runtime/inputs.js";
import type { ValueSignature } from "../runtime/signature.js";
import { audioSource } from "./audio.js";
import { imagesSource } from "./images.js";
import { parseJsonRecords } from "./json.js";
import { parseNpy } from "./npy.js";
import { parseNpz } from "./npz.js";
import { readTensorFile, tensorFileSets } from "./pb.js";
import { splitRecord } from "./split.js";
import { textSource } from "./text.js";

/**
 * Split the arrays along their first axis into one sample each (the axis kept, size 1);
 * otherwise the whole arrays are one sample.
 * @default false
 */
type SplitOption = boolean;

/**
 * Several files, each one sample.
 * @minItems 1
 */
type FileList = readonly string[];

function dataSet(name: string, produce: () => AsyncIterable<DataRecord>): DataSet {
  return { name, records: produce };
}

async function readBytes(file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(file));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw errors.fileNotFound(file);
    throw error;
  }
}

function paths(value: string | readonly string[]): readonly string[] {
  return typeof value === "string" ? [value] : value;
}

export interface NpyOptions {
  /**
   * Input name → .npy file, relative to the recipe.
   * @minProperties 1
   */
  readonly files: Record<string, string>;
  readonly split: SplitOption;
}

export const npySource = defineDataSource<NpyOptions>({
  id: "npy",
  summary:
    "One .npy file per model input (numpy.save), as one sample or split along the first axis",
  options: npyOptionsSchema,
  open(options, context) {
    return dataSet("npy", async function* () {
      const record: Record<string, Tensor> = {};
      for (const [name, file] of Object.entries(options.files)) {
        const path = context.resolve(file);
        record[name] = parseNpy(await readBytes(path), path, name);
      }
      yield* options.split ? splitRecord(record, "npy files") : [record];
    });
  },
  files(options, context) {
    return Object.values(options.files).map((file) => context.resolve(file));
  },
});

export interface NpzOptions {
  /** A .npz file, or a list of them, relative to the recipe; each is one sample. */
  readonly path: string | FileList;
  readonly split: SplitOption;
}

export const npzSource = defineDataSource<NpzOptions>({
  id: "npz",
  summary:
    "Arrays named after the model inputs in .npz archives (numpy.savez), one sample per file",
  options: npzOptionsSchema,
  open(options, context) {
    return dataSet("npz", async function* () {
      for (const file of paths(options.path)) {
        const path = context.resolve(file);
        const record = parseNpz(await readBytes(path), path);
        yield* options.split ? splitRecord(record, path) : [record];
      }
    });
  },
  files(options, context) {
    return paths(options.path).map((file) => context.resolve(file));
  },
});

export interface PbOptions {
  /** A folder of test_data_set_N folders, or of input_K.pb files, relative to the recipe. */
  readonly dir: string;
  /** Input names for input_0.pb, input_1.pb, …; default: the name stored in each TensorProto. */
  readonly inputs?: readonly string[];
}

export const pbSource = defineDataSource<PbOptions>({
  id: "pb",
  summary:
    "ONNX TensorProto files in the ONNX test layout (test_data_set_N/input_K.pb), one sample per set",
  options: pbOptionsSchema,
  open(options, context) {
    return dataSet("pb", async function* () {
      const dir = context.resolve(options.dir);
      const sets = tensorFileSets(dir);
      if (sets.length === 0) {
        throw errors.dataOptionsInvalid(
          dir,
          "no input_K.pb files in the folder or its test_data_set_N folders",
          "point dir at an ONNX test case folder or a test_data_set_N folder",
        );
      }
      for (const files of sets) {
        const record: Record<string, Tensor> = {};
        files.forEach((file, k) => {
          const tensor = readTensorFile(file);
          const name = options.inputs?.[k] ?? tensor.name;
          if (!name) {
            throw errors.dataOptionsInvalid(
              file,
              "the TensorProto has no name, so the input it feeds is unknown",
              "list the input names in order under the data source's inputs: option",
            );
          }
          tensor.name = name;
          record[name] = tensor;
        });
        yield record;
      }
    });
  },
  files(options, context) {
    return [context.resolve(options.dir)];
  },
});

export interface JsonOptions {
  /** The JSON file, relative to the recipe. */
  readonly path: string;
  /**
   * Input name → dtype (int64, float16, bool, …) for plain nested arrays; default float32. An
   * entry written as {"dtype", "shape", "data"} names its own.
   * @default {}
   */
  readonly dtypes: Record<string, string>;
}

export const jsonSource = defineDataSource<JsonOptions>({
  id: "json",
  summary: "Samples from a JSON file: a record or a list of records of input name → array",
  options: jsonOptionsSchema,
  open(options, context) {
    return dataSet("json", async function* () {
      const path = context.resolve(options.path);
      const text = new TextDecoder().decode(await readBytes(path));
      yield* parseJsonRecords(text, path, options.dtypes);
    });
  },
  files(options, context) {
    return [context.resolve(options.path)];
  },
});

/**
 * A dimension of a generated input.
 * @integer
 * @minimum 0
 */
type Dim = number;

export interface RandomInput {
  /** float32, float16, int64, bool, … */
  readonly dtype: string;
  /** The input's dimensions. */
  readonly shape: readonly Dim[];
}

export interface RandomOptions {
  /**
   * Input name → { dtype, shape }; names decide the values (input_ids: token ids, *mask*: ones,
   * position_ids: 0..n-1, timestep: below 1000, other floats: normal).
   * @minProperties 1
   */
  readonly inputs: Record<string, RandomInput>;
  /**
   * How many samples.
   * @integer
   * @minimum 1
   * @default 8
   */
  readonly samples: number;
  /**
   * Seed; sample i uses seed + i.
   * @integer
   * @default 0
   */
  readonly seed: number;
  /**
   * Token ids are drawn below this.
   * @integer
   * @minimum 1
   * @default 100
   */
  readonly vocabSize: number;
}

export const randomSource = defineDataSource<RandomOptions>({
  id: "random",
  summary:
    "Generated samples: token ids within the vocabulary, masks of ones, positions, seeded normal floats",
  options: randomOptionsSchema,
  open(options) {
    const signature: ValueSignature[] = Object.entries(options.inputs).map(([name, spec]) => {
      let dataType: DataType;
      try {
        dataType = dataTypeFromName(spec.dtype);
      } catch {
        throw errors.dataOptionsInvalid(
          "data (random)",
          `input "${name}": unknown dtype "${spec.dtype}"`,
          "use a numpy dtype name: float32, float16, int64, int32, bool, …",
        );
      }
      return { name, dataType, dims: spec.shape };
    });
    return dataSet("random", async function* () {
      for (let i = 0; i < options.samples; i++) {
        yield generateInputs(signature, { seed: options.seed + i, vocabSize: options.vocabSize });
      }
    });
  },
});

/** The data sources every recipe can `use:`. */
export const builtinDataSources = [
  npySource,
  npzSource,
  pbSource,
  jsonSource,
  randomSource,
  imagesSource,
  audioSource,
  textSource,
] as const;
