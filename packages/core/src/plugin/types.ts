import type { ModelBundle } from "../bundle.js";
import type { Tensor } from "../ir/tensor.js";
import type { Provider } from "../recipe/types.js";

/** The plugin API version this core implements; a plugin declares the one it was written for. */
export const PLUGIN_API_VERSION = 1;

/**
 * A JSON Schema (draft-07, as ajv validates recipes) for a pass's options. Every
 * property should carry a `description` and, where it has one, a `default`: the engine fills
 * defaults in and `lathe plugins describe` prints the table from it.
 */
export type OptionsSchema = {
  type: "object";
  properties: Record<string, Record<string, unknown>>;
  required?: string[];
  additionalProperties?: false;
} & Record<string, unknown>;

export interface PluginMeta {
  /** npm package name, e.g. `@lathe/plugin-quantize` or `lathe-plugin-foo`. */
  readonly name: string;
  readonly version: string;
  /** The PLUGIN_API_VERSION the plugin was written against. */
  readonly apiVersion: number;
  readonly description?: string;
}

export interface Plugin {
  readonly meta: PluginMeta;
  readonly passes?: readonly PassDefinition[];
  readonly metrics?: readonly MetricDefinition[];
  readonly dataSources?: readonly DataSourceDefinition[];
  readonly modelSources?: readonly ModelSourceDefinition[];
}

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
}

/** Progress of the running pass: `total` units of work, `done` so far, and what is happening. */
export interface ProgressReporter {
  start(total: number, label?: string): void;
  advance(units?: number, label?: string): void;
}

/** A deterministic random source seeded from the recipe, the pass id and the input. */
export interface PassRandom {
  /** Uniform in [0, 1). */
  uniform(): number;
  /** Standard normal. */
  normal(): number;
  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number;
}

/** Named arrays, as a data source yields them: one record per sample, keyed by input name. */
export type DataRecord = Readonly<Record<string, Tensor>>;

/** A recipe's named data (calibration, evaluation), read lazily. */
export interface DataSet {
  readonly name: string;
  records(): AsyncIterable<DataRecord>;
  /**
   * How many records `records()` yields, when the source knows without decoding them (a file
   * per record): splits and progress use it; without it they count by reading the records.
   */
  count?(): Promise<number>;
}

/** Creates ONNX Runtime sessions for the recipe's target (implemented by the runtime). */
export interface SessionFactory {
  /** Runs `model` once per input record and returns its outputs (by output name). */
  run(
    model: import("../ir/model.js").Model,
    inputs: readonly DataRecord[],
    options?: { outputs?: readonly string[] },
  ): Promise<DataRecord[]>;
  /**
   * One session for many runs (calibration over many batches): the runtime's factory has it.
   * Release the session when done.
   */
  open?(
    model: import("../ir/model.js").Model,
  ): Promise<import("../runtime/session.js").RuntimeSession>;
}

export interface PassContext<Options> {
  /** The pass's validated options with defaults filled in, frozen. */
  readonly options: Readonly<Options>;
  /** The id of this pass in the recipe (`int4`), and the pass it runs (`quantize/weight-only`). */
  readonly stepId: string;
  readonly passId: string;
  readonly logger: Logger;
  readonly progress: ProgressReporter;
  readonly sessions: SessionFactory;
  /**
   * Where the result will run: the recipe's `target.providers`, in order of preference, and its
   * `target.shapes`. A pass may choose its output for them (the step's cache key includes both).
   */
  readonly target: PassTarget;
  /**
   * The user asked why (`lathe run --explain`): log the reasoning behind the pass's decisions
   * (what it matched, what it declined and why) at info level.
   */
  readonly explain: boolean;
  /** Named data sets from the recipe's `data:` section. */
  data(name: string): DataSet;
  readonly random: PassRandom;
  /** Aborts when the user interrupts the run; check it between units of work. */
  readonly signal: AbortSignal;
  /** A folder for temporary files, removed after the pass. */
  readonly scratchDir: string;
  /** Resolves a path relative to the recipe file. */
  resolve(path: string): string;
}

export interface PassTarget {
  readonly providers: readonly Provider[];
  /**
   * The recipe's `target.shapes`: sizes for symbolic input dims (input name → dims), e.g. for
   * inputs a pass generates to calibrate. Empty when the recipe gives none.
   */
  readonly shapes: Readonly<Record<string, readonly number[]>>;
}

/** Statistics a pass reports (`nodes-fused: 12`), shown in the plan and the report. */
export type PassStatistics = Record<string, number | string>;

export interface PassResult {
  readonly bundle: ModelBundle;
  /** False when the pass found nothing to do (the output equals the input). */
  readonly modified: boolean;
  readonly statistics?: PassStatistics;
}

export interface PassRequirements {
  /** Component names the bundle must have (default: any; most passes work on every component). */
  readonly components?: readonly string[];
  /** Minimum default-domain opset. */
  readonly minOpset?: number;
}

/**
 * `Options` defaults to `object` so that a pass typed with its own options interface is a
 * `PassDefinition` as it is (a plugin's `passes: [myPass]` needs no cast).
 */
export interface PassDefinition<Options = object> {
  /** `namespace/kebab-name`, e.g. `quantize/weight-only`. */
  readonly id: string;
  readonly summary: string;
  readonly description?: string;
  readonly options: OptionsSchema;
  readonly requires?: PassRequirements;
  /** Op domains and versions the pass may add; the engine imports them and verifies nothing else appears. */
  readonly introduces?: readonly { readonly domain: string; readonly version: number }[];
  run(bundle: ModelBundle, context: PassContext<Options>): PassResult | Promise<PassResult>;
}

export interface MetricContext {
  readonly sessions: SessionFactory;
  /** The reference the candidate is compared with (the recipe's input model). */
  readonly reference: ModelBundle;
  /**
   * Where the candidate and the reference are stored: a bundle folder or an `.onnx` file (with
   * its external data beside it). Metrics that time, load in a child process or weigh files use
   * these; equal paths mean the reference is being measured.
   */
  readonly candidatePath: string;
  readonly referencePath: string;
  /** The recipe's target: providers, threads, and `shapes` for symbolic input dims. */
  readonly target: import("../recipe/types.js").TargetSpec;
  /** The recipe's seed: generated inputs derive from it, so every model sees the same ones. */
  readonly seed: number;
  data(name: string): DataSet;
  /** Resolves a path relative to the recipe file (a metric's own files: a recognizer's alphabet). */
  resolve(path: string): string;
  readonly logger: Logger;
  /**
   * A value computed once per evaluation run and shared by every candidate's measurement (the
   * reference's outputs, say), keyed by the metric's own string.
   */
  shared<T>(key: string, compute: () => Promise<T>): Promise<T>;
  readonly signal: AbortSignal;
}

/** Which way a metric value is better: selection and the Pareto front read it. */
export type Better = "lower" | "higher";

export interface MetricDefinition<Options = object> {
  /** `namespace/name`; its values are addressed in constraints as `<name>.<key>`. */
  readonly id: string;
  readonly summary: string;
  readonly options: OptionsSchema;
  /**
   * The values it always reports and which way each is better. Constraints naming another key
   * are errors at validation, except keys with a prefix (`logits.kl`: per output), which are
   * judged by their last part.
   */
  readonly values?: Readonly<Record<string, Better>>;
  /**
   * True when the same model, options and inputs always give the same values (size, fidelity):
   * the engine caches them. Measurements (latency, memory) are taken again on every run.
   */
  readonly deterministic?: boolean;
  measure(
    candidate: ModelBundle,
    context: MetricContext & { readonly options: Readonly<Options> },
  ): Promise<Record<string, number>>;
}

export interface DataSourceDefinition<Options = object> {
  /** The `use:` name in the recipe's `data:` section, e.g. `npz`. */
  readonly id: string;
  readonly summary: string;
  readonly options: OptionsSchema;
  open(options: Readonly<Options>, context: { resolve(path: string): string }): DataSet;
  /**
   * The files and folders the data set reads (absolute, through `context.resolve`): the engine
   * keys every step and evaluation that reads the data by their contents, so an edited file is
   * never answered from the cache. Leave it out for data generated from the options alone (its
   * options, seed included, are in the key either way).
   */
  files?(
    options: Readonly<Options>,
    context: { resolve(path: string): string },
  ): readonly string[] | Promise<readonly string[]>;
}

export interface ModelSourceDefinition {
  /** The scheme before the colon in `model:`, e.g. `zoo` for `zoo:gpt2?size=tiny`. */
  readonly scheme: string;
  readonly summary: string;
  load(
    source: string,
    context: { resolve(path: string): string; signal: AbortSignal },
  ): Promise<ModelBundle>;
}
