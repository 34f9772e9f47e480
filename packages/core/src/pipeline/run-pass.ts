import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { ValidateFunction } from "ajv";
import type { ModelBundle } from "../bundle.js";
import type { VerifyLevel } from "../check/verify.js";
import { errors } from "../diagnostics.js";
import type {
  DataRecord,
  DataSet,
  Logger,
  PassContext,
  PassDefinition,
  PassResult,
  Plugin,
  ProgressReporter,
  SessionFactory,
} from "../plugin/types.js";
import { PLUGIN_API_VERSION } from "../plugin/types.js";
import type { Provider } from "../recipe/types.js";
import { createAjv } from "../recipe/validate.js";
import { createCpuSessions } from "../runtime/session-factory.js";
import { deepFreeze } from "./context.js";
import { meetMinOpset } from "./min-opset.js";
import { createPassRandom } from "./random.js";
import { checkPassOutput, opsetImportsOf, verifyPassOutput } from "./step-contract.js";

export interface RunPassSettings<Options> {
  /** Options as a recipe would give them; the schema's defaults fill the rest. */
  readonly options?: Partial<Options>;
  /** The target's providers the pass sees (default cpu); sessions still run on the CPU. */
  readonly providers?: readonly Provider[];
  /** The target's shapes the pass sees (`ctx.target.shapes`; default none). */
  readonly shapes?: Readonly<Record<string, readonly number[]>>;
  /** Named data sets for `ctx.data(name)`, as in-memory records. */
  readonly data?: Readonly<Record<string, readonly DataRecord[]>>;
  /** Default: CPU sessions with ORT's default threads. */
  readonly sessions?: SessionFactory;
  readonly explain?: boolean;
  /** Also receives every log line (they are collected either way). */
  readonly logger?: Logger;
  readonly progress?: ProgressReporter;
  readonly seed?: number;
  readonly signal?: AbortSignal;
  /** Convert an input older than the pass's `requires.minOpset` first (default true), as a recipe step does. */
  readonly convertOpset?: boolean;
  /**
   * How the output is verified, as a recipe step's `verify:` (default `load`: the checker, then
   * an ONNX Runtime CPU session; `check`: the checker only, for ops only a GPU provider has;
   * `none`: trusted, e.g. where a benchmark times the pass alone).
   */
  readonly verify?: VerifyLevel;
  /** The plugin that defines the pass, named in contract errors (default: a stand-in). */
  readonly plugin?: Plugin;
}

export interface PassLogLine {
  readonly level: "debug" | "info" | "warn";
  readonly message: string;
}

export interface StandalonePassRun {
  readonly result: PassResult;
  /** What the pass logged, in order. */
  readonly logs: readonly PassLogLine[];
}

const ajv = createAjv();
const validators = new WeakMap<object, ValidateFunction>();

/**
 * `options` checked against the pass's schema, with the schema's defaults filled in (nested ones
 * too), as a recipe step gets them. Throws PASS_OPTIONS_INVALID with the schema's message.
 */
export function passOptionsWithDefaults<Options>(
  pass: PassDefinition<Options>,
  options: Partial<Options>,
): Options {
  let validate = validators.get(pass.options);
  if (!validate) {
    validate = ajv.compile(pass.options);
    validators.set(pass.options, validate);
  }
  const filled = structuredClone(options) as Record<string, unknown>;
  if (!validate(filled))
    throw errors.passOptionsInvalid(
      pass.id,
      ajv.errorsText(validate.errors, { dataVar: "options" }),
    );
  return filled as Options;
}

/**
 * Runs one pass outside a recipe — in a plugin's tests, a benchmark or a script — with what the
 * engine would give it: options checked against the pass's schema with its defaults filled in
 * (PASS_OPTIONS_INVALID otherwise) and frozen, CPU sessions, a seeded random source, a scratch
 * folder removed afterwards. Afterwards it runs the engine's own checks on the result — its
 * shape, the op domains it uses declared (imports settled), the output verified (checker and
 * ONNX Runtime; PASS_OUTPUT_INVALID) — so a pass that runs here cannot then fail them in a
 * recipe. Returns the result and every line the pass logged.
 */
export async function runPassStandalone<Options>(
  pass: PassDefinition<Options>,
  bundle: ModelBundle,
  settings: RunPassSettings<Options> = {},
): Promise<StandalonePassRun> {
  const options = passOptionsWithDefaults(pass, settings.options ?? {});
  const logs: PassLogLine[] = [];
  const log = (level: PassLogLine["level"]) => (message: string) => {
    logs.push({ level, message });
    settings.logger?.[level](message);
  };
  const data = (name: string): DataSet => {
    const records = settings.data?.[name];
    if (!records)
      throw errors.dataUnknown(
        pass.id,
        name,
        "the pass asked for it, but runPassStandalone was given no such data set",
        "pass it as settings.data",
      );
    return {
      name,
      async *records() {
        yield* records;
      },
    };
  };
  const scratchDir = await mkdtemp(join(tmpdir(), "lathe-pass-"));
  const context: PassContext<Options> = {
    options: deepFreeze(options),
    stepId: "standalone",
    passId: pass.id,
    logger: { debug: log("debug"), info: log("info"), warn: log("warn") },
    progress: settings.progress ?? { start() {}, advance() {} },
    sessions: settings.sessions ?? createCpuSessions(),
    target: { providers: [...(settings.providers ?? ["cpu"])], shapes: settings.shapes ?? {} },
    explain: settings.explain ?? false,
    data,
    random: createPassRandom(settings.seed ?? 0, pass.id, "standalone"),
    signal: settings.signal ?? new AbortController().signal,
    scratchDir,
    resolve: (path) => resolve(path),
  };
  const where = `runPassStandalone (${pass.id})`;
  const plugin = settings.plugin ?? standInPlugin(pass);
  try {
    meetMinOpset(
      { id: "standalone", passId: pass.id, pass, convertOpset: settings.convertOpset ?? true },
      bundle,
      where,
      context.logger.info,
    );
    const inherited = opsetImportsOf(bundle);
    const result: unknown = await pass.run(bundle, context);
    checkPassOutput(result, inherited, pass as PassDefinition, plugin);
    await verifyPassOutput(
      result.bundle,
      settings.verify ?? "load",
      pass.id,
      `${plugin.meta.name}@${plugin.meta.version}`,
      where,
      context.logger.info,
    );
    return { result, logs };
  } finally {
    await rm(scratchDir, { recursive: true, force: true });
  }
}

/** A plugin holding only the pass, for messages when the caller names none. */
export function standInPlugin<Options>(pass: PassDefinition<Options>): Plugin {
  return {
    meta: { name: `the plugin of ${pass.id}`, version: "0.0.0", apiVersion: PLUGIN_API_VERSION },
    passes: [pass as unknown as PassDefinition],
  };
}
