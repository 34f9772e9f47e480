import type { PluginMeta } from "../plugin/types.js";
import type { Provider } from "../recipe/types.js";
import { canonicalHash } from "./canonical-json.js";

/** Bumped when the engine changes what it stores for a step, so old entries stop matching. */
const CACHE_FORMAT = 2;

/** A plugin as a key names it: its version, and its code when that is not an installed release. */
export interface PluginIdentity extends Pick<PluginMeta, "name" | "version"> {
  /** A digest of its code (plugin/code-digest.ts); absent for an installed package. */
  readonly code?: string;
}

export interface StepKeyParts {
  /** The digest of the step's input artifact: the recipe input's, or the previous step's key. */
  readonly inputDigest: string;
  readonly passId: string;
  readonly plugin: PluginIdentity;
  /** A digest of the engine's own code (@lathe/core) when it is not an installed release. */
  readonly engine?: string;
  readonly options: Readonly<Record<string, unknown>>;
  /** Digests of the recipe's data sets the options name: all the step may read (data-digest.ts). */
  readonly data?: Readonly<Record<string, string>>;
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
  return canonicalHash({ format: CACHE_FORMAT, ...keyed(parts), code: codeOf(parts) });
}

/**
 * The key with the code digests left out, its `inputDigest` being the previous step's code-free
 * key. Two runs whose keys differ while their code-free keys are equal differ only in code:
 * that is how `lathe run` can say a step runs again because a plugin's code changed.
 */
export function codeFreeStepKey(parts: StepKeyParts): string {
  return canonicalHash({ format: CACHE_FORMAT, codeFree: true, ...keyed(parts) });
}

function keyed(parts: StepKeyParts) {
  return {
    input: parts.inputDigest,
    pass: parts.passId,
    plugin: { name: parts.plugin.name, version: parts.plugin.version },
    options: parts.options,
    data: parts.data ?? {},
    seed: parts.seed,
    providers: parts.providers,
    shapes: parts.shapes,
  };
}

function codeOf(parts: StepKeyParts) {
  return { plugin: parts.plugin.code ?? null, engine: parts.engine ?? null };
}
