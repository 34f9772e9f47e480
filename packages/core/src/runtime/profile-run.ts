import type { Model } from "../ir/model.js";
import type { TargetSpec } from "../recipe/types.js";
import { generateInputs } from "./inputs.js";
import {
  type PassSuggestion,
  type ProfileSummary,
  suggestPasses,
  summarizeProfile,
} from "./profile.js";
import { type GraphOptimizationLevel, openSession } from "./session.js";
import { vocabularyOf } from "./signature.js";
import { describeProviderShare, readTrace } from "./trace.js";

export interface ProfileOptions {
  readonly target?: Partial<TargetSpec>;
  /** Profiled runs after the warm-up. Default 10. */
  readonly runs?: number;
  /** Runs first and left out of the numbers. Default 1. */
  readonly warmup?: number;
  readonly seed?: number;
  readonly graphOptimizationLevel?: GraphOptimizationLevel;
  readonly logger?: { warn(message: string): void; info(message: string): void };
  /** For a bundle folder: the component to profile (default: its only one). */
  readonly component?: string;
  /** Where the shapes come from, for errors: "--shape" on the command line. Default "target.shapes". */
  readonly shapesFrom?: string;
}

export interface ProfileResult {
  /** The provider the session was created with, and the fallbacks taken on the way. */
  readonly provider: string;
  readonly notes: readonly string[];
  /** "all 57 nodes ran on CPUExecutionProvider", from the trace. */
  readonly placement: string;
  /** The input shapes the runs used. */
  readonly shapes: Readonly<Record<string, readonly number[]>>;
  readonly summary: ProfileSummary;
  readonly suggestions: readonly PassSuggestion[];
}

/** Runs a model with ONNX Runtime's profiler on generated inputs and reads where the time went. */
export async function profileModel(
  model: string | Model,
  options: ProfileOptions = {},
): Promise<ProfileResult> {
  const warmup = options.warmup ?? 1;
  const runs = options.runs ?? 10;
  const session = await openSession(model, {
    ...(options.target ? { target: options.target } : {}),
    ...(options.graphOptimizationLevel
      ? { graphOptimizationLevel: options.graphOptimizationLevel }
      : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.component ? { component: options.component } : {}),
    profile: true,
  });
  try {
    const vocabSize = vocabularyOf(session.outputs);
    const inputs = generateInputs(session.inputs, {
      shapes: options.target?.shapes ?? {},
      seed: options.seed ?? 0,
      where: options.shapesFrom ?? "target.shapes",
      ...(vocabSize === undefined ? {} : { vocabSize }),
    });
    const feeds = session.toOrtFeeds(inputs);
    for (let i = 0; i < warmup + runs; i++) await session.runRaw(feeds);
    const trace = await session.endProfiling();
    const events = trace ? readTrace(trace) : [];
    const summary = summarizeProfile(events, { skipRuns: warmup });
    return {
      provider: session.provider,
      notes: session.notes,
      placement: describeProviderShare(summary.providers),
      shapes: Object.fromEntries(Object.entries(inputs).map(([name, t]) => [name, t.dims])),
      summary,
      suggestions: suggestPasses(summary),
    };
  } finally {
    await session.release();
  }
}
