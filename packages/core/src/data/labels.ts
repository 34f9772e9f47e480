/**
 * Labels that come with a data set, as one more array in each record (under `labels.key`, by
 * default `label`), so task metrics (`core/accuracy`, a plugin's CER) read them beside the
 * outputs; the engine feeds a model only the arrays named after its inputs.
 */
import { basename, dirname, relative, sep } from "node:path";
import { errors } from "../diagnostics.js";
import { DataType } from "../ir/dtype.js";
import { Tensor } from "../ir/tensor.js";
import { readDataFile } from "./files.js";

/** Where a file-based data set's labels come from. */
export interface FileLabels {
  /**
   * `folders`: each file's class is the name of the folder it sits in (as torchvision's
   * ImageFolder); otherwise a labels file, relative to the recipe: lines `file,label` (a comma or
   * a tab between), the file named by its path relative to the labels file's folder or by its
   * base name.
   */
  from: string;
  /**
   * Class names in class-index order: a label that is one of them becomes its index. Default
   * for `folders`: the folder names, sorted.
   */
  classes?: string[];
  /**
   * The record key the labels are stored under (what `core/accuracy`'s `labels:` names).
   * @default "label"
   */
  key?: string;
}

/** The label of a file, as a tensor, or undefined when the data set has no labels. */
export type LabelOf = (file: string) => Tensor | undefined;

/**
 * A label value as a tensor: an integer (or integers) as int64, a class name as its index in
 * `classes`, other text as a string tensor (a transcript for a recognizer's metric).
 */
export function labelTensor(
  value: unknown,
  classes: readonly string[] | undefined,
  where: string,
): Tensor {
  if (typeof value === "number" && Number.isInteger(value))
    return Tensor.fromArray(DataType.INT64, [1], [BigInt(value)]);
  if (Array.isArray(value) && value.every((v) => typeof v === "number" && Number.isInteger(v)))
    return Tensor.fromArray(DataType.INT64, [1, value.length], value.map(BigInt));
  if (typeof value === "string") {
    const text = value.trim();
    if (classes) {
      const index = classes.indexOf(text);
      if (index < 0)
        throw errors.dataOptionsInvalid(
          where,
          `label "${text}" is not one of the classes (${classes.slice(0, 10).join(", ")}${classes.length > 10 ? ", …" : ""})`,
          "add it to labels.classes, or correct the label",
        );
      return Tensor.fromArray(DataType.INT64, [1], [BigInt(index)]);
    }
    if (/^-?\d+$/.test(text)) return Tensor.fromArray(DataType.INT64, [1], [BigInt(text)]);
    return Tensor.fromStrings([1], [value]);
  }
  throw errors.dataOptionsInvalid(
    where,
    `a label must be an integer, a list of integers or text; found ${JSON.stringify(value)}`,
    "write class indices, class names (with labels.classes) or transcripts",
  );
}

/** Reads the labels of `files` as `labels` says; checks every file has one before any record. */
export async function fileLabels(
  labels: FileLabels | undefined,
  files: readonly string[],
  resolve: (path: string) => string,
): Promise<LabelOf> {
  if (!labels) return () => undefined;
  if (labels.from === "folders") {
    const classes = labels.classes ?? [...new Set(files.map(folderName))].sort();
    const tensors = new Map(
      files.map((file) => [file, labelTensor(folderName(file), classes, file)]),
    );
    return (file) => tensors.get(file);
  }
  const labelsFile = resolve(labels.from);
  const text = new TextDecoder().decode(await readDataFile(labelsFile));
  const byName = new Map<string, { value: string; line: number }>();
  text.split(/\r?\n/).forEach((line, index) => {
    if (line.trim() === "" || line.startsWith("#")) return;
    const cut = line.search(/[,\t]/);
    if (cut < 0)
      throw errors.dataOptionsInvalid(
        `${labelsFile}:${index + 1}`,
        `a labels line needs a file name and a label separated by a comma or a tab: "${line}"`,
        "write lines like `cat/001.png,3`",
      );
    byName.set(line.slice(0, cut).trim(), { value: line.slice(cut + 1), line: index + 1 });
  });
  const base = dirname(labelsFile);
  const tensors = new Map<string, Tensor>();
  for (const file of files) {
    const entry =
      byName.get(relative(base, file).split(sep).join("/")) ?? byName.get(basename(file));
    if (!entry)
      throw errors.dataOptionsInvalid(
        labelsFile,
        `no label for ${file}`,
        `add a line "${relative(base, file).split(sep).join("/")},<label>" or remove the file from the data set`,
      );
    tensors.set(file, labelTensor(entry.value, labels.classes, `${labelsFile}:${entry.line}`));
  }
  return (file) => tensors.get(file);
}

/** The labels file a data set's key must cover, if any. */
export function labelsKeyPaths(
  labels: FileLabels | undefined,
  resolve: (path: string) => string,
): string[] {
  return labels && labels.from !== "folders" ? [resolve(labels.from)] : [];
}

function folderName(file: string): string {
  return basename(dirname(file));
}
