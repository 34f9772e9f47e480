import type {
  DataSourceDefinition,
  MetricDefinition,
  ModelSourceDefinition,
  PassDefinition,
  Plugin,
} from "./types.js";

/** Identity helpers: they only give a plugin's parts their full types (as Vite's defineConfig). */
export function definePlugin<P extends Plugin>(plugin: P): P {
  return plugin;
}

/** Without a type argument, options are an untyped record (tests, quick experiments). */
export function definePass<Options = Record<string, unknown>>(
  pass: PassDefinition<Options>,
): PassDefinition<Options> {
  return pass;
}

export function defineMetric<Options = Record<string, unknown>>(
  metric: MetricDefinition<Options>,
): MetricDefinition<Options> {
  return metric;
}

export function defineDataSource<Options = Record<string, unknown>>(
  source: DataSourceDefinition<Options>,
): DataSourceDefinition<Options> {
  return source;
}

export function defineModelSource(source: ModelSourceDefinition): ModelSourceDefinition {
  return source;
}
