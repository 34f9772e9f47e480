import { type SpawnSyncReturns, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

// The real CLI runs from packages/cli/dist (and @lathe/core from packages/core/dist), which
// `pnpm test` builds with `tsc -b` before running vitest.
const cliRoot = fileURLToPath(new URL("..", import.meta.url));
export const bin = join(cliRoot, "bin/run.js");
export const SKIP_REASON = "packages/cli/dist is missing; run `npx tsc -b` first";

/** Whether the commands these tests spawn are built. */
export function isBuilt(...commands: string[]): boolean {
  const built = commands.every((c) => existsSync(join(cliRoot, "dist/commands", `${c}.js`)));
  if (!built) console.warn(`lathe ${commands.join(", ")} CLI tests skipped: ${SKIP_REASON}`);
  return built;
}

/** The test plugin, by absolute path as a recipe may name it. */
export const TEST_PLUGIN = fileURLToPath(
  new URL("../../../test/plugins/test-plugin", import.meta.url),
);

export interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function lathe(args: readonly string[], cwd: string): Ran {
  const result: SpawnSyncReturns<string> = spawnSync(process.execPath, [bin, ...args], {
    cwd,
    encoding: "utf8",
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Starts `lathe` and calls `when` with its stderr so far each time more arrives; `when` returns
 * the signal to send, if it is time. Resolves with how the process ended.
 */
export function latheUntil(
  args: readonly string[],
  cwd: string,
  when: (stderr: string) => NodeJS.Signals | undefined,
): Promise<Ran & { signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd });
    let stdout = "";
    let stderr = "";
    let sent = false;
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
      const signal = sent ? undefined : when(stderr);
      if (signal) {
        sent = true;
        child.kill(signal);
      }
    });
    child.on("error", reject);
    child.on("close", (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}

/** A recipe file's text from lines. */
export function yaml(...lines: string[]): string {
  return `${lines.join("\n")}\n`;
}
