import type { PluginMeta } from "../plugin/types.js";
import type { Provider } from "../recipe/types.js";
import { canonicalHash } from "./canonical-json.js";

/** Bumped when the engine changes what it stores for a step, so old entries stop matching. */
const CACHE_FORMAT = 1;

export interface StepKeyParts {
  /** The digest of the step's input artifact: the recipe input's, or the previous step's key. */
  readonly inputDigest: string;
  readonly passId: string;
  readonly plugin: Pick<PluginMeta, "name" | "version">;
  readonly options: Readonly<Record<string, unknown>>;
  /** The recipe's seed: a pass's random source derives from it. */
  readonly seed: number;
  /** The recipe's target providers: a pass may choose its output for them. */
  readonly providers: readonly Provider[];
  /** The recipe's target shapes: a pass may generate inputs of these sizes (`ctx.target`). */
  readonly shapes: Readonly<Record<string, readonly number[]>>;
}

/**
 * The content address of a step's output. It is derived from what produced it, not from its
 * bytes, so it is known before the pass runs and doubles as the input digest of the next step.
 */
export function stepCacheKey(parts: StepKeyParts): string {
  return canonicalHash({
    format: CACHE_FORMAT,
    input: parts.inputDigest,
    pass: parts.passId,
    plugin: { name: parts.plugin.name, version: parts.plugin.version },
    options: parts.options,
    seed: parts.seed,
    providers: parts.providers,
    shapes: parts.shapes,
  });
}
