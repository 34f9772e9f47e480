import { cp, rm } from "node:fs/promises";
import { basename, dirname, join, relative, resolve } from "node:path";
import type { ModelBundle } from "../bundle.js";
import { loadBundle, saveBundle } from "../bundle-file.js";
import { errors, isLatheError } from "../diagnostics.js";
import type { SaveOptions } from "../onnx/model-file.js";
import type { PassResult, SessionFactory } from "../plugin/types.js";
import { RECIPE_INPUT } from "../recipe/steps.js";
import { createSessionFactory } from "../runtime/session-factory.js";
import { LATHE_VERSION } from "../version.js";
import { ARTIFACT_META, ArtifactCache, type ArtifactMeta } from "./artifact-cache.js";
import { stepCacheKey } from "./cache-key.js";
import { createPassContext } from "./context.js";
import { evaluateStep, evaluationWanted } from "./evaluate-step.js";
import type { PipelineEvent, StepStatus } from "./events.js";
import { type InputArtifact, openRecipeInput, sha256File } from "./input.js";
import { settleOpsetImports } from "./opsets.js";
import type { PassGraph, PlannedStep } from "./plan.js";
import { removeWrittenFolder, replaceFolder } from "./replace-folder.js";
import { type EvaluationReport, type RunReport, type StepReport, writeReport } from "./report.js";
import { writeReproducer } from "./reproducer.js";

/** The folder under output.dir that holds a copy of the selected candidate. */
export const SELECTED = "selected";

export interface RunOptions {
  /** Aborting stops the run between steps or inside one (the pass sees it); the cache stays valid. */
  readonly signal?: AbortSignal;
  /** Recompute every step, replacing its cache entry. */
  readonly noCache?: boolean;
  /** Run only this step and the steps it reads from; write only its output. */
  readonly only?: string;
  /**
   * Passes log why they decided what they did (`ctx.explain`). Cached steps run again, since an
   * explanation comes from running; their cache entries are refreshed.
   */
  readonly explain?: boolean;
  readonly onEvent?: (event: PipelineEvent) => void;
  /** Sessions for passes and metrics; default: on the recipe's `target:` (providers, threads). */
  readonly sessions?: SessionFactory;
}

export interface RunResult {
  readonly report: RunReport;
  readonly reportPath: string;
  /** Candidate step id → the folder its output bundle was written to. */
  readonly outputs: Readonly<Record<string, string>>;
  /** The folder holding a copy of the selected candidate, when evaluation selected one. */
  readonly selected?: string;
}

/**
 * Runs a planned recipe: steps in order, each output stored in the artifact cache under a key
 * derived from its input, pass, plugin version, options and seed (a hit skips the pass), the
 * candidates copied to `output.dir`, and `report.json` beside them — also when a step fails or
 * the run is interrupted, in which case this throws after writing it.
 */
export async function runPipeline(graph: PassGraph, options: RunOptions = {}): Promise<RunResult> {
  const { recipe } = graph;
  const baseDir = dirname(recipe.file);
  const outputDir = resolve(baseDir, recipe.output.dir);
  const reportPath = join(outputDir, "report.json");
  const cache = new ArtifactCache(resolve(baseDir, recipe.output.cache));
  const signal = options.signal ?? new AbortController().signal;
  const emit = options.onEvent ?? (() => {});
  const sessions = options.sessions ?? createSessionFactory(recipe.target);
  const saveOptions: SaveOptions =
    recipe.output.externalDataThreshold > 0
      ? { externalData: { threshold: recipe.output.externalDataThreshold } }
      : {};
  const needed = neededSteps(graph, options.only);
  const startedAt = new Date();
  const startedMs = performance.now();
  const recipeSha = await sha256File(recipe.file);

  const reports = new Map<string, StepReport>();
  const keys = new Map<string, string>();
  let input: InputArtifact | undefined;
  const candidates: { step: string; output: string }[] = [];
  let evaluation: EvaluationReport | undefined;
  let failure: RunReport["error"];
  let thrown: unknown;

  const describe = (step: PlannedStep) => ({
    id: step.id,
    pass: step.passId,
    plugin: `${step.plugin.meta.name}@${step.plugin.meta.version}`,
    input: step.input ?? RECIPE_INPUT,
  });
  const finish = (step: PlannedStep, status: StepStatus, extra: Partial<StepReport> = {}) => {
    const report: StepReport = { ...describe(step), status, ...extra };
    reports.set(step.id, report);
    emit({
      type: "step-end",
      step: step.id,
      status,
      ...(report.reason ? { reason: report.reason } : {}),
      durationMs: report.durationMs ?? 0,
      ...(report.statistics ? { statistics: report.statistics } : {}),
    });
  };

  const runStep = async (step: PlannedStep, artifact: InputArtifact): Promise<void> => {
    const started = performance.now();
    const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
    const inputKey = step.input === undefined ? undefined : keys.get(step.input)!;
    const key = stepCacheKey({
      inputDigest: inputKey ?? artifact.digest,
      passId: step.passId,
      plugin: step.plugin.meta,
      options: step.options,
      seed: recipe.seed,
      providers: recipe.target.providers,
    });
    keys.set(step.id, key);
    const hit = options.noCache || options.explain ? undefined : await cache.lookup(key);
    if (hit) {
      finish(step, "cached", {
        cacheKey: key,
        durationMs: elapsed(),
        originalDurationMs: hit.durationMs,
        modified: hit.modified,
        statistics: hit.statistics,
      });
      return;
    }
    emit({ type: "step-start", step: step.id });
    const fail = async (error: unknown, wrap: boolean): Promise<never> => {
      if (signal.aborted) {
        finish(step, "interrupted", { cacheKey: key, durationMs: elapsed() });
        throw errors.runInterrupted(step.id);
      }
      const reproducer = await writeReproducer(outputDir, {
        recipe,
        step,
        input:
          inputKey === undefined
            ? { reference: artifact.reference, digest: artifact.digest, cached: false }
            : { reference: cache.path(inputKey), digest: inputKey, cached: true },
        error,
      });
      finish(step, "failed", { cacheKey: key, durationMs: elapsed() });
      const reported = wrap
        ? errors.passFailed(
            `${recipe.file} (passes.${step.id})`,
            step.id,
            step.passId,
            `${step.plugin.meta.name}@${step.plugin.meta.version}`,
            error,
            reproducer,
          )
        : error;
      failure = { ...errorSummary(reported), step: step.id, reproducer };
      throw reported;
    };

    let inPass = false;
    let result: PassResult;
    try {
      const bundle =
        inputKey === undefined ? await artifact.load() : await loadBundle(cache.path(inputKey));
      checkRequirements(step, bundle, recipe.file);
      // The pass may change its input in place, so what it inherits is read before it runs.
      const inherited = new Map<string, number>();
      for (const model of bundle.components.values()) {
        for (const [domain, version] of model.opsetImports) inherited.set(domain, version);
      }
      const scratchDir = await cache.scratch(step.id);
      const context = createPassContext({
        recipe,
        registry: graph.registry,
        step,
        inputDigest: inputKey ?? artifact.digest,
        signal,
        scratchDir,
        sessions,
        emit,
        explain: options.explain ?? false,
      });
      try {
        inPass = true;
        result = await step.pass.run(bundle, context);
        inPass = false;
      } finally {
        await rm(scratchDir, { recursive: true, force: true });
      }
      // A pass that returns after an abort may have cut its work short: its result is dropped.
      if (signal.aborted) throw errors.runInterrupted(step.id);
      checkResult(result, step);
      settleOpsetImports(inherited, result.bundle, step.pass, step.plugin);
      await cache.store(
        result.bundle,
        artifactMeta(step, key, inputKey ?? artifact.digest, result, elapsed()),
        saveOptions,
        () => {
          if (signal.aborted) throw errors.runInterrupted(step.id);
        },
      );
    } catch (error) {
      return fail(error, inPass);
    }
    const statistics = result.statistics ?? {};
    await removeWrittenFolder(join(outputDir, `failed-${step.id}`));
    finish(step, "ran", {
      cacheKey: key,
      durationMs: elapsed(),
      modified: result.modified,
      statistics,
    });
  };

  /** Measures the reference and the written candidates, and writes the selected one. */
  const evaluate = async (artifact: InputArtifact): Promise<EvaluationReport> => {
    const { report, result } = await evaluateStep({
      recipe,
      registry: graph.registry,
      input: artifact,
      candidates: candidates.map((c) => ({
        step: c.step,
        path: join(outputDir, c.output),
        // Written candidates are copies of cache entries: the key names their content.
        digest: keys.get(c.step) ?? artifact.digest,
      })),
      cacheDir: cache.dir,
      outputDir,
      saveOptions,
      sessions,
      signal,
      noCache: options.noCache === true,
      emit,
    });
    const selectedFolder = join(outputDir, SELECTED);
    const selection = result.selection;
    const chosen = selection.kind === "objective" ? selection.selected : undefined;
    if (chosen === undefined) {
      // A selected/ folder from an earlier run would claim a choice this run did not make.
      await removeWrittenFolder(selectedFolder);
    } else {
      const from = join(outputDir, candidates.find((c) => c.step === chosen)!.output);
      await replaceFolder(selectedFolder, (temp) => cp(from, temp, { recursive: true }));
    }
    emit({
      type: "selected",
      steps: chosen !== undefined ? [chosen] : selection.kind === "pareto" ? selection.front : [],
      reason: selection.reason,
      ...(chosen === undefined ? {} : { path: selectedFolder }),
    });
    return chosen === undefined
      ? report
      : { ...report, selection: { ...report.selection, output: SELECTED } };
  };

  try {
    await cache.removeAbandoned();
    input = await openRecipeInput(recipe, graph.registry, signal);
    for (const step of graph.steps) {
      if (!needed.has(step.id)) {
        finish(step, "skipped", { reason: "not-needed" });
        continue;
      }
      if (signal.aborted) throw errors.runInterrupted(undefined);
      await runStep(step, input);
    }
    const targets = options.only === undefined ? graph.candidates : [options.only];
    for (const id of targets) {
      const folder = join(outputDir, id);
      await replaceFolder(folder, (temp) =>
        cp(cache.path(keys.get(id)!), temp, {
          recursive: true,
          filter: (path) => basename(path) !== ARTIFACT_META,
        }),
      );
      emit({ type: "output", step: id, path: folder });
      candidates.push({ step: id, output: relative(outputDir, folder) });
    }
    if (targets.length === 0) {
      // No enabled steps: the input is the only model, written as the baseline.
      const folder = join(outputDir, RECIPE_INPUT);
      const bundle = await input.load();
      await replaceFolder(folder, async (temp) => {
        await saveBundle(bundle, temp, saveOptions);
      });
      emit({ type: "output", step: RECIPE_INPUT, path: folder });
      candidates.push({ step: RECIPE_INPUT, output: RECIPE_INPUT });
    }
    if (evaluationWanted(recipe)) {
      evaluation = await evaluate(input);
    }
  } catch (error) {
    thrown = error;
    failure ??= errorSummary(error);
  }

  for (const step of graph.steps) {
    if (!reports.has(step.id)) finish(step, "skipped", { reason: "not-reached" });
  }
  const stepReports: StepReport[] = [
    ...graph.steps.map((s) => reports.get(s.id)!),
    ...graph.disabled.map(
      (d): StepReport => ({
        id: d.id,
        pass: d.passId,
        plugin: pluginOf(graph, d.passId),
        input: d.input ?? RECIPE_INPUT,
        status: "skipped",
        reason: "disabled",
      }),
    ),
  ];
  const report: RunReport = {
    schemaVersion: 1,
    status:
      thrown === undefined
        ? "ok"
        : isLatheError(thrown) && thrown.code === "INTERRUPTED"
          ? "interrupted"
          : "failed",
    recipe: { file: recipe.file, sha256: recipeSha },
    lathe: { version: LATHE_VERSION },
    plugins: graph.registry.plugins.map((p) => ({ name: p.meta.name, version: p.meta.version })),
    input: input ? { reference: input.reference, digest: input.digest } : null,
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(performance.now() - startedMs),
    cache: {
      dir: cache.dir,
      hits: stepReports.filter((s) => s.status === "cached").length,
      misses: stepReports.filter((s) => s.status === "ran" || s.status === "failed").length,
    },
    steps: stepReports,
    candidates,
    ...(evaluation ? { evaluation } : {}),
    ...(failure ? { error: failure } : {}),
  };
  await writeReport(reportPath, report);
  if (thrown !== undefined) throw thrown;
  const outputs = Object.fromEntries(candidates.map((c) => [c.step, join(outputDir, c.output)]));
  const selected =
    report.evaluation?.selection.output === undefined
      ? {}
      : { selected: join(outputDir, report.evaluation.selection.output) };
  return { report, reportPath, outputs, ...selected };
}

/** With `--only`, the step and every step it reads from; otherwise all of them. */
function neededSteps(graph: PassGraph, only: string | undefined): Set<string> {
  if (only === undefined) return new Set(graph.steps.map((s) => s.id));
  const byId = new Map(graph.steps.map((s) => [s.id, s]));
  let step = byId.get(only);
  if (!step) {
    const disabled = graph.disabled.some((d) => d.id === only);
    throw errors.onlyStepInvalid(
      graph.recipe.file,
      only,
      disabled ? "the step is disabled" : "the recipe has no such step",
      disabled
        ? "enable it (enabled: true) to run it"
        : `steps: ${graph.steps.map((s) => s.id).join(", ")}`,
    );
  }
  const needed = new Set<string>();
  while (step) {
    needed.add(step.id);
    step = step.input === undefined ? undefined : byId.get(step.input);
  }
  return needed;
}

function checkRequirements(step: PlannedStep, bundle: ModelBundle, file: string): void {
  const where = `${file} (passes.${step.id})`;
  const names = [...bundle.components.keys()];
  for (const component of step.pass.requires?.components ?? []) {
    if (!bundle.components.has(component)) {
      throw errors.passRequirement(
        where,
        step.id,
        step.passId,
        `it needs component "${component}", and the input has ${names.join(", ")}`,
      );
    }
  }
  const minOpset = step.pass.requires?.minOpset;
  if (minOpset === undefined) return;
  for (const [name, model] of bundle.components) {
    const opset = model.opset("") ?? 0;
    if (opset < minOpset) {
      throw errors.passRequirement(
        where,
        step.id,
        step.passId,
        `it needs opset ${minOpset} or newer, and component "${name}" imports opset ${opset}`,
      );
    }
  }
}

/** A pass must hand back `{ bundle, modified }`; anything else is its author's bug. */
function checkResult(result: unknown, step: PlannedStep): asserts result is PassResult {
  const r = result as Partial<PassResult> | undefined;
  const ok =
    typeof r === "object" &&
    r !== null &&
    typeof r.modified === "boolean" &&
    r.bundle?.components instanceof Map &&
    typeof r.bundle.metadata === "object" &&
    (r.statistics === undefined || typeof r.statistics === "object");
  if (!ok) {
    throw errors.pluginContract(
      step.plugin.meta.name,
      `pass ${step.passId}`,
      "returned something other than { bundle: { components: Map, metadata }, modified: boolean, statistics? }",
      "return the new bundle from run(), e.g. { bundle, modified: true, statistics: { ... } }",
    );
  }
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

function pluginOf(graph: PassGraph, passId: string): string {
  const plugin = graph.registry.passes.get(passId)?.plugin;
  return plugin ? `${plugin.meta.name}@${plugin.meta.version}` : "";
}

function errorSummary(error: unknown): { code: string; message: string } {
  if (isLatheError(error)) return { code: error.code, message: error.message };
  return { code: "INTERNAL", message: error instanceof Error ? error.message : String(error) };
}
