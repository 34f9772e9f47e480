import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";

/** A python that imports torch and onnx: `LATHE_PYTHON`, else `python3`, else Debian's own. */
export function findTorchPython(): string | undefined {
  const candidates = process.env.LATHE_PYTHON
    ? [process.env.LATHE_PYTHON]
    : ["python3", "/usr/bin/python3"];
  for (const python of candidates) {
    const probe = spawnSync(python, ["-c", "import torch, onnx"], { stdio: "ignore" });
    if (probe.status === 0) return python;
  }
  return undefined;
}

export interface CachedScriptRun {
  /** The python to run `script` with; the script is called as `script <output folder>`. */
  python: string;
  script: string;
  /** The cache folder; complete once it holds a `manifest.json`. */
  folder: string;
  /** How long the script, and a wait for another process running it, may take. */
  timeoutMs: number;
  /** Work on the script's output before it is moved into place. */
  finish?: (scratch: string) => void;
}

/**
 * Runs a script into a private folder and renames it into place, so parallel test files never
 * see a half-written cache; one holds a lock folder while the others wait for it. Returns a
 * reason when it gave up waiting; throws with the script's last lines when it fails.
 */
export function runScriptIntoCache(run: CachedScriptRun): string | undefined {
  const { folder, timeoutMs } = run;
  const lock = `${folder}.lock`;
  mkdirSync(join(folder, ".."), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (existsSync(join(folder, "manifest.json"))) return undefined;
      // a lock left by a killed run goes stale
      const since = statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now();
      if (Date.now() - since > timeoutMs) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) return `timed out waiting for another process to fill ${folder}`;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
    }
  }
  try {
    if (existsSync(join(folder, "manifest.json"))) return undefined;
    const scratch = `${folder}.tmp-${process.pid}`;
    rmSync(scratch, { recursive: true, force: true });
    const result = spawnSync(run.python, [run.script, scratch], {
      encoding: "utf8",
      timeout: timeoutMs,
    });
    try {
      if (result.status !== 0) {
        const tail = `${result.stderr ?? ""}${result.error?.message ?? ""}`
          .trim()
          .split("\n")
          .slice(-8);
        throw new Error(`${run.script} failed (exit ${result.status}):\n${tail.join("\n")}`);
      }
      run.finish?.(scratch);
    } catch (error) {
      rmSync(scratch, { recursive: true, force: true });
      throw error;
    }
    rmSync(folder, { recursive: true, force: true });
    renameSync(scratch, folder);
    return undefined;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
