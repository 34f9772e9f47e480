import { errors } from "../diagnostics.js";
import type { Model } from "../ir/model.js";

/** One rewrite of a fixpoint loop: returns how many changes it made to the model (0: none). */
export interface ModelRewrite {
  readonly name: string;
  apply(model: Model): number;
}

export interface FixpointReport {
  /** Rounds run, the last one changing nothing. */
  rounds: number;
  /** Changes per rewrite, summed over the rounds. */
  changes: Record<string, number>;
}

/**
 * Runs the rewrites in turn, round after round, until a whole round changes nothing: folding
 * exposes a fusion, the fusion leaves constants to fold, and so on. Throws when `maxRounds`
 * rounds still change the model (two rewrites undoing each other), naming the rewrites that did.
 */
export function rewriteToFixpoint(
  model: Model,
  rewrites: readonly ModelRewrite[],
  options: { maxRounds?: number } = {},
): FixpointReport {
  const maxRounds = options.maxRounds ?? 50;
  const changes: Record<string, number> = Object.fromEntries(rewrites.map((r) => [r.name, 0]));
  for (let round = 1; round <= maxRounds; round++) {
    const active: string[] = [];
    for (const rewrite of rewrites) {
      const n = rewrite.apply(model);
      if (n > 0) {
        changes[rewrite.name] = (changes[rewrite.name] ?? 0) + n;
        active.push(rewrite.name);
      }
    }
    if (active.length === 0) return { rounds: round, changes };
    if (round === maxRounds) {
      throw errors.irMisuse(
        `rewriting did not reach a fixpoint in ${maxRounds} rounds: ${active.join(", ")} still changed the model in the last round (two rewrites may undo each other)`,
      );
    }
  }
  return { rounds: maxRounds, changes };
}
