export { type BuiltZooModel, buildZooModel, buildZooSource, findZooModel } from "./build.js";
export { parseAssignments, parseZooSource, resolveConfig } from "./config.js";
export { Rng } from "./random.js";
export { zooModels } from "./registry.js";
export { type ConfigKey, type ConfigValue, defineZooModel, type ZooModel } from "./zoo-model.js";
