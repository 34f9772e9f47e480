/**
 * Every error Lathe raises on purpose: a stable `code`, a message that says what is wrong,
 * `where` it is (a file, file:line:col, or a node name) and a `hint` that says what to do.
 * One factory per situation keeps the wording in one place (Rollup's logs, ESLint's messages).
 */
export class LatheError extends Error {
  readonly code: string;
  readonly where: string | undefined;
  readonly hint: string | undefined;

  constructor(code: string, message: string, options: LatheErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "LatheError";
    this.code = code;
    this.where = options.where;
    this.hint = options.hint;
  }

  /** The message as a person should read it: where, what, and what to do. */
  format(): string {
    const head = this.where ? `${this.where}: ${this.message}` : this.message;
    return this.hint ? `${head}\n  hint: ${this.hint}` : head;
  }
}

export interface LatheErrorOptions {
  where?: string;
  hint?: string;
  cause?: unknown;
}

export function isLatheError(error: unknown): error is LatheError {
  return error instanceof LatheError;
}

const REEXPORT =
  "re-export the model from its source framework, or check that the file is complete";

export const errors = {
  fileNotFound: (file: string) =>
    new LatheError("FILE_NOT_FOUND", "no such file", {
      where: file,
      hint: "check the path; relative paths are resolved from the current directory",
    }),
  notOnnx: (file: string, detail: string) =>
    new LatheError("NOT_ONNX", `not an ONNX model: ${detail}`, {
      where: file,
      hint: "pass a .onnx file written by an ONNX exporter (torch.onnx, tf2onnx, Optimum, Lathe)",
    }),
  truncated: (file: string, detail: string) =>
    new LatheError("ONNX_TRUNCATED", `the file is truncated or corrupt: ${detail}`, {
      where: file,
      hint: REEXPORT,
    }),
  tooLarge: (file: string, bytes: number) =>
    new LatheError(
      "ONNX_TOO_LARGE",
      `the protobuf part is ${bytes} bytes; protobuf cannot hold more than 2 GiB`,
      {
        where: file,
        hint: "save the weights as external data (saveModel's externalData option, or `--external-data` on the command line)",
      },
    ),
  externalLocationUnsafe: (file: string, tensor: string, location: string, why: string) =>
    new LatheError(
      "EXTERNAL_DATA_UNSAFE",
      `tensor "${tensor}" points at external data "${location}", which ${why}`,
      {
        where: file,
        hint: "external data must be a relative path inside the model's folder; move the data file next to the model and fix its location",
      },
    ),
  externalDataMissing: (file: string, tensor: string, dataFile: string) =>
    new LatheError(
      "EXTERNAL_DATA_MISSING",
      `tensor "${tensor}" reads external data from "${dataFile}", which does not exist`,
      { where: file, hint: "copy the external data files together with the .onnx file" },
    ),
  externalDataOutOfRange: (
    file: string,
    tensor: string,
    dataFile: string,
    offset: number,
    length: number,
    size: number,
  ) =>
    new LatheError(
      "EXTERNAL_DATA_OUT_OF_RANGE",
      `tensor "${tensor}" reads bytes ${offset}..${offset + length} of "${dataFile}", but that file has ${size} bytes`,
      { where: file, hint: `the data file is truncated or belongs to another model; ${REEXPORT}` },
    ),
  externalDataInvalid: (file: string, tensor: string, detail: string) =>
    new LatheError(
      "EXTERNAL_DATA_INVALID",
      `tensor "${tensor}" has invalid external data: ${detail}`,
      {
        where: file,
        hint: REEXPORT,
      },
    ),
  tensorSizeMismatch: (where: string, tensor: string, detail: string) =>
    new LatheError("TENSOR_SIZE_MISMATCH", `tensor "${tensor}": ${detail}`, {
      where,
      hint: "the tensor's bytes do not match its dims and data type; the file is corrupt or was written by a broken exporter",
    }),
  invalidModel: (where: string, detail: string, hint?: string) =>
    new LatheError("ONNX_INVALID", detail, hint === undefined ? { where } : { where, hint }),
  unsupportedDataType: (where: string, dataType: number) =>
    new LatheError("UNSUPPORTED_DATA_TYPE", `unknown ONNX data type ${dataType}`, {
      where,
      hint: "the model uses a data type newer than this Lathe understands (ONNX 1.20 / IR 13); upgrade Lathe",
    }),
  cannotWrite: (file: string, detail: string) =>
    new LatheError("CANNOT_WRITE", `cannot write the model: ${detail}`, {
      where: file,
      hint: "check that the output folder can be created and written, and that the disk has room",
    }),
  zooConfigInvalid: (model: string, key: string, detail: string, hint?: string) =>
    new LatheError("ZOO_CONFIG_INVALID", `config key "${key}": ${detail}`, {
      where: `zoo:${model}`,
      hint: hint ?? `run \`lathe zoo list\` to see ${model}'s config keys and presets`,
    }),
  irMisuse: (detail: string) =>
    new LatheError("IR_MISUSE", detail, {
      hint: "this is a bug in the calling code (a pass or plugin), not in the model",
    }),
} as const;
