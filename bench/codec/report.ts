import type { Sample } from "./children.js";

/** One input layout measured for every contender. */
export interface Scenario {
  title: string;
  /** Bytes of the input model on disk (the .onnx plus its data file, if any). */
  fileBytes: number;
  samples: Map<string, Sample[]>;
  /** Verification lines: re-load and byte comparison results. */
  checks: string[];
  /** False when a check found a problem (a failed re-load); byte differences are only reported. */
  checksPassed: boolean;
}

/** Peak RSS of a child that only starts up (and imports its library). */
export interface Baseline {
  name: string;
  rssBytes: number;
}

export const FLOORS = { timeRatio: 1.0, rssPerFileByte: 1.5 };

/** Prints the tables; returns true when Lathe meets every floor and every check passed. */
export function printReport(
  scenarios: Scenario[],
  baselines: Baseline[],
  lathe: string,
  python: string,
): boolean {
  let passed = true;
  const width = Math.max(
    ...scenarios.flatMap((s) => [...s.samples.keys()].map((k) => k.length)),
    ...baselines.map((b) => b.name.length),
  );
  for (const s of scenarios) {
    console.log(`\n${s.title}: ${mb(s.fileBytes)} MB on disk`);
    console.log(
      `  ${"".padEnd(width)}  ${"load+save s (min–max)".padStart(22)}  ${"peak RSS MB".padStart(11)}  ${"RSS / file".padStart(10)}`,
    );
    for (const [name, samples] of s.samples) {
      const seconds = samples.map((x) => x.seconds);
      const time = `${medianOf(seconds).toFixed(2)} (${Math.min(...seconds).toFixed(2)}–${Math.max(...seconds).toFixed(2)})`;
      const rss = medianOf(samples.map((x) => x.maxRssBytes));
      console.log(
        `  ${name.padEnd(width)}  ${time.padStart(22)}  ${mb(rss).padStart(11)}  ${(rss / s.fileBytes).toFixed(2).padStart(10)}`,
      );
    }
    const timeRatio = medianSeconds(s, lathe) / medianSeconds(s, python);
    const rssRatio = medianRss(s, lathe) / medianRss(s, python);
    const rssPerFile = medianRss(s, lathe) / s.fileBytes;
    console.log(
      `  ${"Lathe / Python".padEnd(width)}  ${timeRatio.toFixed(2).padStart(22)}  ${rssRatio.toFixed(2).padStart(11)}`,
    );
    const timeOk = timeRatio <= FLOORS.timeRatio;
    const rssOk = rssPerFile <= FLOORS.rssPerFileByte;
    passed &&= timeOk && rssOk && s.checksPassed;
    console.log(
      `  floors: time Lathe/Python ${timeRatio.toFixed(2)} ≤ ${FLOORS.timeRatio} ${verdict(timeOk)}; ` +
        `Lathe peak RSS / file ${rssPerFile.toFixed(2)} ≤ ${FLOORS.rssPerFileByte} ${verdict(rssOk)}`,
    );
    for (const line of s.checks) console.log(`  check: ${line}`);
  }
  console.log("\nbaseline peak RSS of a child that only starts (and imports its library):");
  for (const b of baselines)
    console.log(`  ${b.name.padEnd(width)}  ${mb(b.rssBytes).padStart(6)} MB`);
  console.log(`\n${passed ? "PASS" : "FAIL"}`);
  return passed;
}

export function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function medianSeconds(s: Scenario, name: string): number {
  return medianOf(s.samples.get(name)!.map((x) => x.seconds));
}

function medianRss(s: Scenario, name: string): number {
  return medianOf(s.samples.get(name)!.map((x) => x.maxRssBytes));
}

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

function verdict(ok: boolean): string {
  return ok ? "PASS" : "FAIL";
}
