export {
  defineDataSource,
  defineMetric,
  defineModelSource,
  definePass,
  definePlugin,
} from "./define.js";
export { PluginRegistry, type Registered } from "./registry.js";
export * from "./types.js";
