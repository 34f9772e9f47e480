import { spawnSync } from "node:child_process";

/** What one child process reports: wall seconds around load + save, and its peak RSS. */
export interface Sample {
  seconds: number;
  maxRssBytes: number;
}

/** A child's job: only start up (`baseline`), or load a model and save it elsewhere. */
export type Task =
  | { kind: "baseline" }
  | { kind: "load-save"; input: string; output: string; external: boolean };

/** The argv both children understand (see lathe-child.ts and python-child.py). */
export function taskArgs(task: Task): string[] {
  if (task.kind === "baseline") return ["baseline"];
  return ["load-save", task.input, task.output, ...(task.external ? ["external"] : [])];
}

/** Runs one fresh process to completion and parses the JSON line it prints last. */
export function runChild(command: string, args: readonly string[], cwd: string): Sample {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
  const shown = [command, ...args].map((a) => (a.length > 80 ? `${a.slice(0, 40)}…` : a)).join(" ");
  if (result.error) throw new Error(`could not start \`${shown}\`: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(
      `\`${shown}\` exited with ${result.status ?? result.signal}:\n${result.stderr}`,
    );
  }
  const last = result.stdout.trim().split("\n").at(-1) ?? "";
  try {
    const sample = JSON.parse(last) as Sample;
    if (typeof sample.seconds === "number" && typeof sample.maxRssBytes === "number") return sample;
  } catch {
    // reported below with the output
  }
  throw new Error(
    `\`${shown}\` printed no result line; its output was:\n${result.stdout}${result.stderr}`,
  );
}
