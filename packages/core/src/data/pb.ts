import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { errors } from "../diagnostics.js";
import type { Tensor } from "../ir/tensor.js";
import { decodeTensor } from "../onnx/model-file.js";

/** One serialized ONNX TensorProto (`onnx.numpy_helper.from_array(...).SerializeToString()`). */
export function readTensorFile(file: string): Tensor {
  const bytes = readFileSync(file);
  if (bytes.length === 0)
    throw errors.dataFileInvalid(file, "TensorProto .pb", "the file is empty");
  try {
    return decodeTensor(bytes, file);
  } catch (error) {
    throw errors.dataFileInvalid(file, "TensorProto .pb", (error as Error).message);
  }
}

/**
 * The samples of a folder in the ONNX backend test layout: `test_data_set_N/input_K.pb`, one
 * sample per data set folder, or `input_K.pb` directly in the folder (one sample). Files are
 * ordered by N and K numerically (`input_10` after `input_9`).
 */
export function tensorFileSets(dir: string): string[][] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw errors.fileNotFound(dir);
  const names = readdirSync(dir);
  const sets = numbered(names, "test_data_set_", "").filter((n) =>
    statSync(join(dir, n)).isDirectory(),
  );
  const folders = sets.length > 0 ? sets.map((s) => join(dir, s)) : [dir];
  return folders
    .map((folder) => numbered(readdirSync(folder), "input_", ".pb").map((f) => join(folder, f)))
    .filter((files) => files.length > 0);
}

function numbered(names: readonly string[], prefix: string, suffix: string): string[] {
  const pattern = new RegExp(`^${prefix}(\\d+)${suffix.replace(".", "\\.")}$`);
  return names
    .map((name) => [name, pattern.exec(name)?.[1]] as const)
    .filter((entry): entry is readonly [string, string] => entry[1] !== undefined)
    .sort((a, b) => Number(a[1]) - Number(b[1]))
    .map(([name]) => name);
}
