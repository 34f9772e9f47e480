/**
 * @lathe/cli: the `lathe` command line. Commands live in ./commands (one oclif command per
 * file); later commands and plugins reuse the base command and the terminal formatters.
 */
export { run } from "@oclif/core";
export { BaseCommand } from "./base-command.js";
export { builtinPlugins } from "./builtin-plugins.js";
export { type Cell, type Column, formatTable, type TableOptions } from "./format/table.js";
export { formatBytes, formatCount, formatInteger } from "./format/units.js";
