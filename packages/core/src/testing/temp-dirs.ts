import { mkdtempSync, rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A maker of temporary folders that the test framework's hook removes: `tempDirs(afterEach)`
 * removes the folders each test made after it; `tempDirs(afterAll)`, those of the whole file.
 * The maker takes a name prefix (the folder is `<os temp>/<prefix>XXXXXX`).
 *
 *     const tempDir = tempDirs(afterEach);
 *     it("writes", () => { const dir = tempDir("lathe-run-"); … });
 */
export function tempDirs(
  cleanupHook: (cleanup: () => Promise<void>) => unknown,
): (prefix?: string) => string {
  const made: string[] = [];
  cleanupHook(async () => {
    const folders = made.splice(0);
    await Promise.all(folders.map((dir) => rm(dir, { recursive: true, force: true })));
  });
  return (prefix = "lathe-test-") => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    made.push(dir);
    return dir;
  };
}

/** Runs `use` with a fresh temporary folder and removes the folder however `use` ends. */
export async function withTempDir<T>(
  use: (dir: string) => T | Promise<T>,
  prefix = "lathe-test-",
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    return await use(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
