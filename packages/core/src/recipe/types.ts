import type { VerifyLevel } from "../check/verify.js";

/**
 * A recipe after loading: `extends` merged, `${vars.*}` / `${env:*}` interpolated, validated
 * against the assembled schema, defaults filled in. docs/recipes.md documents every key.
 */
export interface Recipe {
  /** Absolute path of the recipe file (paths inside it are relative to its folder). */
  readonly file: string;
  /** A short name, shown by `lathe run` and recorded in the report. */
  readonly name?: string;
  /** What the recipe is for, shown by `lathe run` and recorded in the report. */
  readonly description?: string;
  /** The input: a path, or a model source (`zoo:gpt2?size=tiny`). Exactly one of model/bundle. */
  readonly model?: string;
  /** A multi-component input: component name → path or model source. */
  readonly bundle?: Readonly<Record<string, string>>;
  /** Plugins to load besides the built-ins: npm names or paths relative to the recipe. */
  readonly plugins: readonly string[];
  readonly target: TargetSpec;
  /** Named data sources for calibration and evaluation. */
  readonly data: Readonly<Record<string, DataSpec>>;
  /** Steps in file order: step id → what it runs. */
  readonly passes: Readonly<Record<string, StepSpec>>;
  readonly evaluate: EvaluateSpec;
  readonly select: SelectSpec;
  readonly output: OutputSpec;
  /** The seed every pass's random source derives from. */
  readonly seed: number;
  /** How each step's output is verified before it is stored (docs/onnx-checks.md). Default load. */
  readonly verify: VerifyLevel;
}

export type Provider = "cpu" | "webgpu" | "cuda" | "tensorrt";

export interface TargetSpec {
  /** In order of preference. Default ["cpu"]. */
  readonly providers: readonly Provider[];
  /** Fall back to the next provider (logged) instead of failing when one is unavailable. */
  readonly fallback: boolean;
  /** Intra-op threads; 0 lets ONNX Runtime decide. */
  readonly threads: number;
  /** Values for symbolic input dims, e.g. { input_ids: [1, 128] }. */
  readonly shapes: Readonly<Record<string, readonly number[]>>;
}

export interface DataSpec {
  /** Data source id (`npz`, `npy`, `pb`, `json`, `random`, `images`, `audio`, `text`, or a plugin's). */
  readonly use: string;
  readonly options: Readonly<Record<string, unknown>>;
  /** Cuts the data set into named parts, each usable as a data set name (docs/data.md). */
  readonly split?: DataSplitSpec;
}

/** `split:` of a data set: disjoint parts chosen by a seeded shuffle of its records. */
export interface DataSplitSpec {
  /** The shuffle's seed (loading fills in 0). */
  readonly seed?: number;
  /** Part name → a record count, a fraction of the records (below 1), or `rest`. */
  readonly parts: Readonly<Record<string, number | "rest">>;
}

export interface StepSpec {
  /** The pass, `namespace/name`. */
  readonly use: string;
  /**
   * The step whose output this step reads, or `model` for the recipe's input; default: the
   * previous step (the input for the first).
   */
  readonly input?: string;
  readonly options: Readonly<Record<string, unknown>>;
  /** false skips the step: it passes its input through to the steps that read it. */
  readonly enabled: boolean;
  /**
   * When the pass needs a newer opset than its input imports, convert the input first where
   * the conversion is exact (default, also when absent); false fails the step instead.
   */
  readonly convertOpset?: boolean;
  /** Overrides the recipe's `verify` for this step's output. */
  readonly verify?: VerifyLevel;
  /** Seconds the pass may run; past them the step fails and nothing is stored. */
  readonly timeout?: number;
}

export interface EvaluateSpec {
  /** Metric ids with their options; empty means no evaluation. */
  readonly metrics: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** Constraints such as `fidelity.top1 >= 0.98` or `latency.p50 <= 0.5 * reference`. */
  readonly constraints: readonly string[];
}

export interface SelectSpec {
  /** `latency.p50`, `size.bytes`, …: the metric value to optimize among accepted candidates. */
  readonly objective?: string;
  readonly direction: "minimize" | "maximize";
  /** Keep the Pareto front of two objectives instead of one winner. */
  readonly pareto?: readonly [string, string];
}

export interface OutputSpec {
  /** Where the selected model(s) and report.json go, relative to the recipe. */
  readonly dir: string;
  /** The artifact cache folder. Default `.lathe/cache` next to the recipe. */
  readonly cache: string;
  /** Store tensors of at least this many bytes as external data (0: never). */
  readonly externalDataThreshold: number;
}
