import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

/**
 * The benchmarks run through tsx, which strips types without checking them, and no build
 * includes them: a bench that stopped compiling (an export renamed in a package) was found only
 * when someone ran it. Each bench folder's tsconfig is checked here instead.
 */
const root = join(import.meta.dirname, "..", "..");
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const folders = readdirSync(join(root, "bench"), { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && !entry.name.startsWith("."))
  .map((entry) => entry.name);

describe("benchmark sources typecheck", () => {
  it.each(folders)(
    "bench/%s",
    async (folder) => {
      const config = join(root, "bench", folder, "tsconfig.json");
      const result = await promisify(execFile)(process.execPath, [tsc, "-p", config, "--noEmit"], {
        cwd: root,
      }).then(
        () => "",
        (error: { stdout?: string; stderr?: string }) =>
          `${error.stdout ?? ""}${error.stderr ?? ""}`,
      );
      expect(result, `tsc -p bench/${folder}/tsconfig.json --noEmit`).toBe("");
    },
    180_000,
  );
});
