/**
 * Stage two of a run: the enabled steps in plan order. Each output is stored in the artifact
 * cache under a key derived from what produced it (a hit skips the pass). In a linear chain the
 * next step gets the bundle in memory; only a step reading a cache hit, or the second reader of
 * a branch point, loads its input from the cache.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { ModelBundle } from "../bundle.js";
import { loadBundle } from "../bundle-file.js";
import { errors, isAtRecipeKey } from "../diagnostics.js";
import type { PassResult } from "../plugin/types.js";
import { recipeLocation } from "../recipe/location.js";
import type { ArtifactMeta } from "./artifact-cache.js";
import { codeFreeStepKey, type StepKeyParts, stepCacheKey } from "./cache-key.js";
import { createPassContext } from "./context.js";
import type { InputArtifact } from "./input.js";
import { type CodeDigestMap, codeChangedSince, rememberKey } from "./key-history.js";
import { ENGINE } from "./key-sources.js";
import { meetMinOpset } from "./min-opset.js";
import type { PlannedStep } from "./plan.js";
import { removeWrittenFolder } from "./replace-folder.js";
import { writeReproducer } from "./reproducer.js";
import type { RunPlan } from "./run-plan.js";
import {
  checkPassOutput,
  checkRequirements,
  opsetImportsOf,
  verifyPassOutput,
} from "./step-contract.js";
import type { StepRecord } from "./step-record.js";

export interface ExecutedSteps {
  /** Step id → cache key: it names the step's stored output and is its readers' input digest. */
  readonly keys: ReadonlyMap<string, string>;
}

/** A step's key without code digests, and the code digests its output depends on. */
interface CodeFree {
  readonly key: string;
  readonly code: CodeDigestMap;
}

/** A step's output kept in memory for the step after it, which reads it. */
interface HandOff {
  readonly step: string;
  readonly bundle: ModelBundle;
}

export async function executeSteps(
  plan: RunPlan,
  input: InputArtifact,
  record: StepRecord,
): Promise<ExecutedSteps> {
  const keys = new Map<string, string>();
  const codeFree = new Map<string, CodeFree>();
  const order = plan.graph.steps.filter((s) => plan.needed.has(s.id));
  let handOff: HandOff | undefined;
  for (const step of plan.graph.steps) {
    if (!plan.needed.has(step.id)) {
      record.finish(step, "skipped", { reason: "not-needed" });
      continue;
    }
    if (plan.signal.aborted) throw errors.runInterrupted(undefined);
    const given = handOff !== undefined && handOff.step === step.input ? handOff.bundle : undefined;
    handOff = undefined;
    const output = await executeStep(plan, step, { input, keys, codeFree, record, given });
    // Held only for the very next step: a bundle is as large as the model.
    const next = order[order.indexOf(step) + 1];
    if (output && next?.input === step.id) handOff = { step: step.id, bundle: output };
  }
  return { keys };
}

interface StepInputs {
  readonly input: InputArtifact;
  readonly keys: Map<string, string>;
  readonly codeFree: Map<string, CodeFree>;
  readonly record: StepRecord;
  /** The input bundle handed over in memory by the previous step, if it ran. */
  readonly given: ModelBundle | undefined;
}

/** Runs one step, or finds it in the cache; returns its output when the pass ran. */
async function executeStep(
  plan: RunPlan,
  step: PlannedStep,
  { input, keys, codeFree, record, given }: StepInputs,
): Promise<ModelBundle | undefined> {
  const { recipe } = plan.graph;
  const { cache, signal } = plan;
  const inputKey = step.input === undefined ? undefined : keys.get(step.input)!;
  const inputDigest = inputKey ?? input.digest;
  // Digesting code and data is the run's cost, once, not the first step's: timed apart.
  const { key, free } = await stepKeys(plan, step, inputDigest, input, codeFree);
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
  keys.set(step.id, key);
  codeFree.set(step.id, free);
  const hit = plan.noCache || plan.explain ? undefined : await cache.lookup(key);
  const codeChanged = hit ? undefined : await codeChangedSince(cache.dir, free.key, key, free.code);
  await rememberKey(cache.dir, free.key, key, free.code);
  if (hit) {
    record.finish(step, "cached", {
      cacheKey: key,
      durationMs: elapsed(),
      originalDurationMs: hit.durationMs,
      modified: hit.modified,
      statistics: hit.statistics,
    });
    return undefined;
  }
  plan.emit({ type: "step-start", step: step.id });
  if (codeChanged) {
    plan.emit({
      type: "step-log",
      step: step.id,
      level: "info",
      message: `running again: the code of ${codeChanged.join(", ")} changed since the cached result`,
    });
  }
  const changedCode = codeChanged ? { codeChanged } : {};

  let inPass = false;
  let result: PassResult;
  try {
    const bundle =
      given ??
      (inputKey === undefined ? await input.load() : await loadBundle(cache.path(inputKey)));
    checkRequirements(step, bundle, recipeLocation(recipe, ["passes", step.id]));
    meetMinOpset(step, bundle, recipeLocation(recipe, ["passes", step.id]), (message) =>
      plan.emit({ type: "step-log", step: step.id, level: "info", message }),
    );
    // The pass may change its input in place, so what it inherits is read before it runs.
    const inherited = opsetImportsOf(bundle);
    const scratchDir = await cache.scratch(step.id);
    const timeout = recipe.passes[step.id]?.timeout;
    const timer = new AbortController();
    const context = createPassContext({
      recipe,
      registry: plan.graph.registry,
      step,
      inputDigest,
      // The pass sees the run's interruption and its own timeout as one signal.
      signal: timeout === undefined ? signal : AbortSignal.any([signal, timer.signal]),
      scratchDir,
      sessions: plan.sessions,
      emit: plan.emit,
      explain: plan.explain,
    });
    try {
      inPass = true;
      const running = Promise.resolve(step.pass.run(bundle, context));
      result = await (timeout === undefined
        ? running
        : withTimeout(running, timeout, timer, () =>
            errors.stepTimedOut(
              recipeLocation(recipe, ["passes", step.id, "timeout"]),
              step.id,
              timeout,
            ),
          ));
      inPass = false;
    } finally {
      await rm(scratchDir, { recursive: true, force: true });
    }
    // A pass that returns after an abort may have cut its work short: its result is dropped.
    if (signal.aborted) throw errors.runInterrupted(step.id);
    checkPassOutput(result, inherited, step.pass, step.plugin);
    await verifyPassOutput(
      result.bundle,
      recipe.passes[step.id]?.verify ?? recipe.verify,
      step.passId,
      `${step.plugin.meta.name}@${step.plugin.meta.version}`,
      recipeLocation(recipe, ["passes", step.id]),
      (message) => plan.emit({ type: "step-log", step: step.id, level: "info", message }),
    );
    await cache.store(
      result.bundle,
      artifactMeta(step, key, inputDigest, result, elapsed()),
      plan.saveOptions,
      () => {
        if (signal.aborted) throw errors.runInterrupted(step.id);
      },
    );
  } catch (error) {
    if (signal.aborted) {
      record.finish(step, "interrupted", {
        cacheKey: key,
        ...changedCode,
        durationMs: elapsed(),
      });
      throw errors.runInterrupted(step.id);
    }
    const reproducer = await writeReproducer(plan.outputDir, {
      recipe,
      step,
      input:
        inputKey === undefined
          ? { reference: input.reference, digest: input.digest, cached: false }
          : { reference: cache.path(inputKey), digest: inputKey, cached: true },
      error,
    });
    record.fail(step, { cacheKey: key, ...changedCode, durationMs: elapsed() }, reproducer);
    // Only what the pass itself threw is wrapped; the engine's own errors speak for themselves,
    // and so does a data set that could not be read (it names its data: entry).
    throw inPass && !isAtRecipeKey(error)
      ? errors.passFailed(
          recipeLocation(recipe, ["passes", step.id]),
          step.id,
          step.passId,
          `${step.plugin.meta.name}@${step.plugin.meta.version}`,
          error,
          reproducer,
        )
      : error;
  }
  await removeWrittenFolder(join(plan.outputDir, `failed-${step.id}`));
  record.finish(step, "ran", {
    cacheKey: key,
    ...changedCode,
    durationMs: elapsed(),
    modified: result.modified,
    statistics: result.statistics ?? {},
  });
  return handedOn(result.bundle);
}

/**
 * The step's cache key (its input, pass, plugin and engine code, options, the data its options
 * name, seed, providers) and its code-free key, which tells a recompute caused by code apart.
 */
async function stepKeys(
  plan: RunPlan,
  step: PlannedStep,
  inputDigest: string,
  input: InputArtifact,
  codeFree: ReadonlyMap<string, CodeFree>,
): Promise<{ key: string; free: CodeFree }> {
  const { recipe } = plan.graph;
  const plugin = await plan.keys.plugin(step.plugin);
  const engine = await plan.keys.engine();
  const parts: StepKeyParts = {
    inputDigest,
    passId: step.passId,
    plugin,
    ...(engine === undefined ? {} : { engine }),
    options: step.options,
    data: await plan.keys.data.of(step.options),
    seed: recipe.seed,
    providers: recipe.target.providers,
    shapes: recipe.target.shapes,
  };
  const from = step.input === undefined ? undefined : codeFree.get(step.input);
  return {
    key: stepCacheKey(parts),
    free: {
      key: codeFreeStepKey({ ...parts, inputDigest: from?.key ?? input.digest }),
      code: { ...from?.code, [ENGINE]: engine ?? null, [plugin.name]: plugin.code ?? null },
    },
  };
}

/**
 * The stored output as the next step would have loaded it from the cache: metadata goes through
 * JSON there, so it does here too, and a cold run and a resumed one see the same bundle.
 */
function handedOn(bundle: ModelBundle): ModelBundle {
  return {
    components: bundle.components,
    metadata: JSON.parse(JSON.stringify(bundle.metadata)) as Record<string, unknown>,
  };
}

function artifactMeta(
  step: PlannedStep,
  key: string,
  inputDigest: string,
  result: PassResult,
  durationMs: number,
): ArtifactMeta {
  return {
    schemaVersion: 1,
    key,
    step: step.id,
    pass: step.passId,
    plugin: { name: step.plugin.meta.name, version: step.plugin.meta.version },
    options: step.options,
    inputDigest,
    modified: result.modified,
    statistics: result.statistics ?? {},
    durationMs,
    createdAt: new Date().toISOString(),
  };
}

/**
 * The pass's result, or the timeout's error once `seconds` pass; then the pass's signal is
 * aborted so that it stops, and whatever it returns later is dropped.
 */
async function withTimeout<T>(
  running: Promise<T>,
  seconds: number,
  timer: AbortController,
  error: () => Error,
): Promise<T> {
  let handle: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    handle = setTimeout(() => {
      timer.abort();
      reject(error());
    }, seconds * 1000);
  });
  running.catch(() => undefined); // a pass failing after its timeout is not an unhandled rejection
  try {
    return await Promise.race([running, expired]);
  } finally {
    clearTimeout(handle);
  }
}
