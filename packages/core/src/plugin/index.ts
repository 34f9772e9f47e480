export {
  defineDataSource,
  defineMetric,
  defineModelSource,
  definePass,
  definePlugin,
} from "./define.js";
export { checkPlugin, type LoadPluginsOptions, loadPlugins } from "./load.js";
export {
  createNameFilter,
  isNamePattern,
  type NameFilterOptions,
  type NameFilterWording,
  type NamePattern,
  nameFilterSchema,
} from "./name-filter.js";
export { PluginRegistry, type PluginSource, type Registered } from "./registry.js";
export * from "./types.js";
