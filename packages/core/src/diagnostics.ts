/**
 * Every error Lathe raises on purpose: a stable `code`, a message that says what is wrong,
 * `where` it is (a file, file:line:col, or a node name) and a `hint` that says what to do.
 * One factory per situation keeps the wording in one place (Rollup's logs, ESLint's messages).
 */

/**
 * Marks Lathe's errors by a registered symbol, the same in every copy of @lathe/core: a plugin
 * that bundles or installs its own copy throws errors of another LatheError class, which
 * `instanceof` would not recognise, so they would be printed as bugs in Lathe.
 */
const LATHE_ERROR: unique symbol = Symbol.for("@lathe/core:LatheError");

export class LatheError extends Error {
  /** The brand `isLatheError` reads (see LATHE_ERROR). */
  declare readonly [LATHE_ERROR]: true;
  readonly code: string;
  readonly where: string | undefined;
  readonly hint: string | undefined;

  constructor(code: string, message: string, options: LatheErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "LatheError";
    this.code = code;
    this.where = options.where;
    this.hint = options.hint;
    Object.defineProperty(this, LATHE_ERROR, { value: true });
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

/**
 * Whether `error` is a Lathe error, from this copy of @lathe/core or any other: recognised by
 * its brand and fields, never by class.
 */
/** Errors `atRecipeKey` made: they already name their recipe key, so wrappers leave them be. */
const locatedErrors = new WeakSet<Error>();

/**
 * An error raised while running, moved to the recipe key that caused it: the same code and hint,
 * `context` put before the message (with the original `where`, a file or node, kept in it).
 */
export function atRecipeKey(error: unknown, where: string, context: string): LatheError {
  if (error instanceof Error && locatedErrors.has(error)) return error as LatheError;
  const inner = isLatheError(error)
    ? `${error.message}${error.where ? ` (${error.where})` : ""}`
    : error instanceof Error
      ? error.message
      : String(error);
  const located = new LatheError(
    isLatheError(error) ? error.code : "INTERNAL",
    `${context}: ${inner}`,
    {
      where,
      cause: error,
      ...(isLatheError(error) && error.hint !== undefined ? { hint: error.hint } : {}),
    },
  );
  locatedErrors.add(located);
  return located;
}

/** True for an error that names the recipe key that caused it (see `atRecipeKey`). */
export function isAtRecipeKey(error: unknown): boolean {
  return error instanceof Error && locatedErrors.has(error);
}

export function isLatheError(error: unknown): error is LatheError {
  if (typeof error !== "object" || error === null) return false;
  const e = error as Partial<Record<PropertyKey, unknown>>;
  return (
    e[LATHE_ERROR] === true &&
    typeof e.code === "string" &&
    typeof e.message === "string" &&
    typeof e.format === "function"
  );
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
  pluginContract: (plugin: string, part: string, detail: string, hint?: string) =>
    new LatheError("PLUGIN_CONTRACT", `Plugin author: ${plugin}: ${part} ${detail}`, {
      where: plugin,
      hint: hint ?? "see docs/plugins.md for the plugin contract; this is a bug in the plugin",
    }),
  pluginApiMismatch: (plugin: string, wants: number, supported: number, version: string) =>
    new LatheError(
      "PLUGIN_API_MISMATCH",
      `plugin ${plugin} was written for Lathe plugin API ${wants}, but this Lathe (${version}) implements plugin API ${supported}`,
      {
        where: plugin,
        hint:
          wants > supported
            ? `the plugin needs a newer Lathe, one that implements plugin API ${wants}: upgrade @lathe/cli`
            : `the plugin needs an older Lathe (plugin API ${wants}): install a version of ${plugin} written for plugin API ${supported}, or ask its author to update it`,
      },
    ),
  pluginNotFound: (specifier: string, where: string, hint: string) =>
    new LatheError("PLUGIN_NOT_FOUND", `cannot find plugin "${specifier}"`, { where, hint }),
  pluginLoadFailed: (specifier: string, where: string, cause: unknown) =>
    new LatheError(
      "PLUGIN_LOAD_FAILED",
      `plugin "${specifier}" failed to load: ${cause instanceof Error ? cause.message : String(cause)}`,
      {
        where,
        hint: "the plugin's module threw while it was imported; run with --verbose for its stack",
        cause,
      },
    ),
  unknownPass: (where: string, step: string, pass: string, hint: string) =>
    new LatheError(
      "PASS_UNKNOWN",
      `step "${step}" uses pass "${pass}", which no loaded plugin defines`,
      {
        where,
        hint,
      },
    ),
  passNotLoaded: (pass: string, hint: string) =>
    new LatheError("PASS_UNKNOWN", `no loaded plugin defines pass "${pass}"`, { hint }),
  stepInputUnknown: (where: string, step: string, input: string, hint: string) =>
    new LatheError(
      "STEP_INPUT_UNKNOWN",
      `step "${step}" reads "${input}", which is not a step of this recipe`,
      {
        where,
        hint,
      },
    ),
  stepIdReserved: (where: string, id: string) =>
    new LatheError(
      "STEP_ID_RESERVED",
      `"${id}" cannot be a step id: input: ${id} means the recipe's input`,
      {
        where,
        hint: "rename the step",
      },
    ),
  stepCycle: (where: string, cycle: readonly string[]) =>
    new LatheError("STEP_CYCLE", `the steps read each other in a cycle: ${cycle.join(" → ")}`, {
      where,
      hint: "a step can only read a step that does not read it back; fix the input: of one of them",
    }),
  opsetUnsupported: (where: string, detail: string) =>
    new LatheError("OPSET_UNSUPPORTED", detail, {
      where,
      hint: "convert to an opset between 1 and 23, upwards",
    }),
  opsetConversionRefused: (
    from: number,
    to: number,
    problems: readonly { where: string; version: number; reason: string }[],
  ) =>
    new LatheError(
      "OPSET_CONVERSION_REFUSED",
      `cannot convert from opset ${from} to ${to} exactly: ${problems.length} node${problems.length === 1 ? "" : "s"} cannot follow:\n${problems
        .slice(0, 20)
        .map((p) => `  ${p.where}: at opset ${p.version}: ${p.reason}`)
        .join("\n")}${problems.length > 20 ? `\n  … and ${problems.length - 20} more` : ""}`,
      {
        hint: "convert to an opset before the first version named, re-export the model at the opset you need, or replace those nodes",
      },
    ),
  passRequirement: (where: string, step: string, pass: string, detail: string) =>
    new LatheError(
      "PASS_REQUIREMENT",
      `step "${step}" (${pass}) cannot run on its input: ${detail}`,
      {
        where,
        hint: "point the step's input: at a model that has what the pass requires, or use another pass",
      },
    ),
  passFailed: (
    where: string,
    step: string,
    pass: string,
    plugin: string,
    cause: unknown,
    reproducer: string,
  ) =>
    new LatheError(
      "PASS_FAILED",
      `step "${step}" (pass ${pass} of ${plugin}) failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      {
        where,
        // What the pass said to do comes first: a recipe mistake it found (the data set's
        // channels, a missing calibration set) is fixed in the recipe, not in the plugin.
        hint: `${isLatheError(cause) && cause.hint ? `${cause.hint}; ` : ""}a reproducer (input reference and recipe slice) is in ${reproducer}; run with --verbose for the plugin's stack`,
        cause,
      },
    ),
  passOutputInvalid: (
    where: string,
    pass: string,
    plugin: string,
    component: string,
    detail: string,
    hint: string,
  ) =>
    new LatheError(
      "PASS_OUTPUT_INVALID",
      `pass ${pass} of ${plugin} wrote an invalid model (component "${component}"): ${detail}`,
      {
        where,
        hint: `${hint}. Nothing was stored or written; this is a bug in the pass (report it to ${plugin}), or set verify: check or none on the step to look at its output anyway`,
      },
    ),
  stepTimedOut: (where: string, step: string, seconds: number) =>
    new LatheError("STEP_TIMEOUT", `step "${step}" ran past its timeout of ${seconds} s`, {
      where,
      hint: `raise passes.${step}.timeout, or give the pass less work (smaller options, a smaller model)`,
    }),
  runInterrupted: (step: string | undefined) =>
    new LatheError(
      "INTERRUPTED",
      step === undefined
        ? "the run was interrupted"
        : `the run was interrupted during step "${step}"`,
      { hint: "finished steps are cached: run the recipe again to resume" },
    ),
  onlyStepInvalid: (where: string, step: string, detail: string, hint: string) =>
    new LatheError("ONLY_STEP_INVALID", `--only ${step}: ${detail}`, { where, hint }),
  modelSourceUnknown: (where: string, source: string, scheme: string, known: readonly string[]) =>
    new LatheError(
      "MODEL_SOURCE_UNKNOWN",
      `no loaded plugin provides model source "${scheme}:" (in "${source}")`,
      {
        where,
        hint:
          known.length > 0
            ? `known model sources: ${known.map((k) => `${k}:`).join(", ")}; or add the plugin that provides it to plugins:`
            : "add the plugin that provides it to plugins:",
      },
    ),
  dataUnknown: (where: string, name: string, detail: string, hint: string) =>
    new LatheError("DATA_UNKNOWN", `data "${name}": ${detail}`, { where, hint }),
  metricFailed: (where: string, metric: string, model: string, cause: unknown) =>
    new LatheError(
      "METRIC_FAILED",
      `metric ${metric} failed on ${model}: ${cause instanceof Error ? cause.message : String(cause)}`,
      {
        where,
        hint: "run with --verbose for the stack; check the model runs (lathe bench it)",
        cause,
      },
    ),
  constraintInvalid: (where: string, text: string, detail: string) =>
    new LatheError("CONSTRAINT_INVALID", `constraint "${text}": ${detail}`, {
      where,
      hint: "write `<metric>.<value> <op> <bound>`, e.g. `fidelity.top1 >= 0.98` or `latency.p50 <= 0.5 * reference` (docs/evaluate.md)",
    }),
  metricUnknown: (where: string, metric: string, known: readonly string[]) =>
    new LatheError("METRIC_UNKNOWN", `no loaded plugin defines the metric "${metric}"`, {
      where,
      hint:
        known.length > 0
          ? `known metrics: ${known.join(", ")}`
          : "add the plugin that defines it to plugins:",
    }),
  providerUnavailable: (where: string, provider: string, detail: string, fix: string) =>
    new LatheError(
      "PROVIDER_UNAVAILABLE",
      `execution provider "${provider}" is not available: ${detail}`,
      {
        where,
        hint: `${fix}; or list another provider after it in target.providers with fallback: true (CLI: --provider ${provider} --provider cpu --fallback)`,
      },
    ),
  shapeUnbound: (where: string, input: string, dim: string, example: string) =>
    new LatheError(
      "SHAPE_UNBOUND",
      `input "${input}" has the symbolic dim "${dim}", and nothing gives it a size`,
      {
        where,
        hint: `add target.shapes to the recipe (shapes: { ${input}: ${example} }) or pass --shape ${input}=${example.replace(/[[\] ]/g, "").replace(/,/g, "x")} on the command line`,
      },
    ),
  dataFileInvalid: (file: string, format: string, detail: string) =>
    new LatheError("DATA_FILE_INVALID", `not a valid ${format} file: ${detail}`, {
      where: file,
      hint: `the file is truncated or corrupt, or not ${format}; write it again (numpy.save / numpy.savez / onnx.numpy_helper.from_array)`,
    }),
  passOptionsInvalid: (pass: string, detail: string) =>
    new LatheError("PASS_OPTIONS_INVALID", `invalid options: ${detail}`, {
      where: pass,
      hint: `\`lathe plugins describe ${pass}\` lists the options and their types`,
    }),
  outputFolderNotLathes: (folder: string, why: string) =>
    new LatheError(
      "OUTPUT_FOLDER_NOT_LATHES",
      `Lathe would replace this output folder, but ${why}; nothing was changed`,
      {
        where: folder,
        hint: "Lathe replaces only folders it wrote: move or rename it, or set output.dir to another folder (if an older Lathe wrote it, delete it once)",
      },
    ),
  namePatternInvalid: (option: string, pattern: string, detail: string) =>
    new LatheError(
      "NAME_PATTERN_INVALID",
      `${option} pattern ${JSON.stringify(pattern)} is not a regular expression: ${detail}`,
      {
        where: option,
        hint: "include/exclude are JavaScript regular expressions: escape ( ) [ ] . * + ? with \\ to match them literally",
      },
    ),
  dataOptionsInvalid: (where: string, detail: string, hint: string) =>
    new LatheError("DATA_OPTIONS_INVALID", detail, { where, hint }),
  dataDecodeFailed: (file: string, detail: string) =>
    new LatheError("DATA_DECODE_FAILED", `cannot decode ${file}: ${detail}`, {
      where: file,
      hint: "replace or remove the file, or narrow the data set's path so it does not match it",
    }),
  profileTraceInvalid: (file: string, detail: string) =>
    new LatheError("PROFILE_TRACE_INVALID", `not an ONNX Runtime profile trace: ${detail}`, {
      where: file,
      hint: "pass the JSON file ONNX Runtime writes with profiling on (enableProfiling)",
    }),
} as const;
