import type { ModelBundle } from "@lathe/core";

/** A configuration value as `--config key=value` gives it, after parsing. */
export type ConfigValue = number | boolean | string;

export interface ConfigKey {
  readonly type: "integer" | "number" | "boolean" | "string";
  readonly description: string;
  /** For strings: the allowed values. */
  readonly enum?: readonly string[];
  readonly minimum?: number;
}

/**
 * One model of the zoo. `build` is deterministic for a given config and seed, and the graph
 * follows, op for op, the exporter named in `exporter` (so passes meet what real exports contain).
 */
export interface ZooModel<
  Config extends Record<string, ConfigValue> = Record<string, ConfigValue>,
> {
  readonly name: string;
  readonly summary: string;
  /** Which exporter and version the graph's pattern follows, e.g. "torch.onnx.export (TorchScript), torch 2.1, opset 17". */
  readonly exporter: string;
  /** Every config key with its meaning; `presets` and `--config` overrides must use only these. */
  readonly configKeys: Readonly<Record<keyof Config & string, ConfigKey>>;
  /** Named configurations; `tiny` is for tests, the others for demos and benchmarks. */
  readonly presets: Readonly<Record<string, Config>> & { readonly tiny: Config };
  /** The preset `zoo build` uses when none is named. */
  readonly defaultPreset: string;
  build(config: Config, options: { seed: number }): ModelBundle;
}

/** Identity helper that keeps a zoo model's config type. */
export function defineZooModel<Config extends Record<string, ConfigValue>>(
  model: ZooModel<Config>,
): ZooModel<Config> {
  return model;
}
