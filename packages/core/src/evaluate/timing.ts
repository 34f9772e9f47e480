/** How long to measure: warm-up runs, then repeats until both `runs` and `minTimeMs` are reached. */
export interface TimingPlan {
  readonly warmup: number;
  readonly runs: number;
  readonly minTimeMs: number;
  /** A ceiling on repeats, so a very fast model does not run forever to fill `minTimeMs`. */
  readonly maxRuns: number;
}

export const DEFAULT_TIMING: TimingPlan = { warmup: 3, runs: 20, minTimeMs: 1000, maxRuns: 10_000 };

/**
 * Times `runOnce` under `plan` and returns each timed run's duration in milliseconds. The clock
 * is injected (tests pass a synthetic one; the metric passes `performance.now`), and so is the
 * work, so the loop's rules are tested without wall-clock assertions.
 */
export async function timeRuns(
  runOnce: () => Promise<unknown>,
  plan: TimingPlan,
  clock: () => number,
  signal?: AbortSignal,
): Promise<number[]> {
  for (let i = 0; i < plan.warmup; i++) {
    signal?.throwIfAborted();
    await runOnce();
  }
  const samples: number[] = [];
  const started = clock();
  while (
    samples.length < plan.maxRuns &&
    (samples.length < plan.runs || clock() - started < plan.minTimeMs)
  ) {
    signal?.throwIfAborted();
    const t0 = clock();
    await runOnce();
    samples.push(clock() - t0);
  }
  return samples;
}
