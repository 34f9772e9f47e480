import { randomBytes } from "node:crypto";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { PassStatistics } from "../plugin/types.js";
import type { SkipReason, StepStatus } from "./events.js";

/** `report.json`: what a run did. docs/pipeline.md documents every field; keep it stable. */
export interface RunReport {
  readonly schemaVersion: 1;
  readonly status: "ok" | "failed" | "interrupted";
  readonly recipe: { readonly file: string; readonly sha256: string };
  readonly lathe: { readonly version: string };
  readonly plugins: readonly { readonly name: string; readonly version: string }[];
  /** The recipe's input, which is also the reference the candidates are compared against. */
  readonly input: { readonly reference: string; readonly digest: string } | null;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly cache: { readonly dir: string; readonly hits: number; readonly misses: number };
  /** Every step of the recipe, in plan order, then the disabled ones. */
  readonly steps: readonly StepReport[];
  /** The steps whose outputs were written, with their folders relative to the report. */
  readonly candidates: readonly { readonly step: string; readonly output: string }[];
  readonly error?: {
    readonly code: string;
    readonly message: string;
    readonly step?: string;
    readonly reproducer?: string;
  };
}

export interface StepReport {
  readonly id: string;
  readonly pass: string;
  /** `name@version` of the plugin that defines the pass. */
  readonly plugin: string;
  /** The step it read, or "model" for the recipe's input. */
  readonly input: string;
  readonly status: StepStatus;
  readonly reason?: SkipReason;
  readonly cacheKey?: string;
  /** Time spent on the step in this run (for a cache hit: finding it). */
  readonly durationMs?: number;
  /** For a cache hit: how long the pass took when it ran. */
  readonly originalDurationMs?: number;
  readonly modified?: boolean;
  readonly statistics?: PassStatistics;
  /** Folder of the written output, relative to the report (candidates only). */
  readonly output?: string;
}

/** Writes the report under a temp name and renames it, so a reader never sees half of it. */
export async function writeReport(path: string, report: RunReport): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  await writeFile(temp, `${JSON.stringify(report, null, 2)}\n`);
  await rename(temp, path);
}
