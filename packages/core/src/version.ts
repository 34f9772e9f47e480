import { createRequire } from "node:module";

/** This Lathe's version (the @lathe/core package's), for reports and plugin API errors. */
export const LATHE_VERSION: string = (
  createRequire(import.meta.url)("../package.json") as { version: string }
).version;
