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

export function definePass<Options>(pass: PassDefinition<Options>): PassDefinition<Options> {
  return pass;
}

export function defineMetric<Options>(
  metric: MetricDefinition<Options>,
): MetricDefinition<Options> {
  return metric;
}

export function defineDataSource<Options>(
  source: DataSourceDefinition<Options>,
): DataSourceDefinition<Options> {
  return source;
}

export function defineModelSource(source: ModelSourceDefinition): ModelSourceDefinition {
  return source;
}
