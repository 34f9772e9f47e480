import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { InferenceSession } from "onnxruntime-node";
import { BUNDLE_MANIFEST, type BundleManifest } from "../bundle-file.js";
import { errors } from "../diagnostics.js";
import type { Model } from "../ir/model.js";
import { encodeModel } from "../onnx/model-file.js";
import type { DataRecord } from "../plugin/types.js";
import type { Provider, TargetSpec } from "../recipe/types.js";
import {
  fromOrtRecord,
  loadOrt,
  type OrtFeeds,
  type OrtModule,
  signatureOf,
  toOrtFeeds,
} from "./ort.js";
import { isProviderUnavailable, PROVIDERS, providerFix, providerUnavailable } from "./providers.js";
import type { ValueSignature } from "./signature.js";

export type GraphOptimizationLevel = "disabled" | "basic" | "extended" | "all";

export interface SessionOptions {
  /** Providers in order, fallback and threads (the recipe's `target:`); default CPU. */
  readonly target?: Partial<TargetSpec>;
  /** ONNX Runtime's graph optimizations. Default "all". */
  readonly graphOptimizationLevel?: GraphOptimizationLevel;
  /** Profiling on: `endProfiling()` returns the trace file. */
  readonly profile?: boolean;
  readonly logger?: { warn(message: string): void; info(message: string): void };
  /** For a bundle folder: the component to open (default: its only one). */
  readonly component?: string;
}

export interface RuntimeSession {
  readonly inputs: readonly ValueSignature[];
  readonly outputs: readonly ValueSignature[];
  /** The provider the session was created with, after any fallback. */
  readonly provider: Provider;
  /** For the report: fallbacks taken, e.g. "cuda unavailable (…), fell back to cpu". */
  readonly notes: readonly string[];
  run(feeds: DataRecord, outputNames?: readonly string[]): Promise<DataRecord>;
  /** ORT's run on feeds already converted; results stay ORT tensors (for timing loops). */
  runRaw(feeds: OrtFeeds): Promise<unknown>;
  toOrtFeeds(feeds: DataRecord): OrtFeeds;
  /** Ends profiling (when on) and returns the trace file; it lives until `release()`. */
  endProfiling(): Promise<string | undefined>;
  release(): Promise<void>;
}

/**
 * A session on the first provider of `target.providers` that starts. A model is a file path
 * (external data beside it is found by ORT), a bundle folder (with `component`), or an
 * in-memory Model.
 */
export async function openSession(
  model: string | Model,
  options: SessionOptions = {},
): Promise<RuntimeSession> {
  const ort = await loadOrt();
  const providers: readonly Provider[] = options.target?.providers?.length
    ? options.target.providers
    : ["cpu"];
  const fallback = options.target?.fallback ?? false;
  const where = typeof model === "string" ? model : "<in-memory model>";
  const source =
    typeof model === "string" ? componentFile(model, options.component) : encodeModel(model);
  const notes: string[] = [];
  const profileDir = options.profile ? mkdtempSync(join(tmpdir(), "lathe-profile-")) : undefined;

  for (let index = 0; index < providers.length; index++) {
    const provider = providers[index]!;
    const sessionOptions: InferenceSession.SessionOptions = {
      executionProviders: [PROVIDERS[provider].ort],
      graphOptimizationLevel: options.graphOptimizationLevel ?? "all",
      ...(options.target?.threads ? { intraOpNumThreads: options.target.threads } : {}),
      ...(profileDir
        ? { enableProfiling: true, profileFilePrefix: join(profileDir, "trace") }
        : {}),
    };
    let session: InferenceSession;
    try {
      session =
        typeof source === "string"
          ? await ort.InferenceSession.create(source, sessionOptions)
          : await ort.InferenceSession.create(source, sessionOptions);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const next = providers[index + 1];
      if (!isProviderUnavailable(provider, message) || !fallback || next === undefined) {
        if (profileDir) rmSync(profileDir, { recursive: true, force: true });
        if (isProviderUnavailable(provider, message))
          throw providerUnavailable(provider, where, error);
        throw error;
      }
      const note = `${provider} unavailable (${message.split("\n")[0]}), fell back to ${next}; to use ${provider}: ${providerFix(provider)}`;
      options.logger?.warn(note);
      notes.push(note);
      continue;
    }
    return wrapSession(ort, session, provider, notes, profileDir);
  }
  // Unreachable: the loop returns or throws on the last provider.
  throw new Error("no provider to try");
}

/** The `.onnx` file of a bundle folder's component; a file path stays as it is. */
function componentFile(path: string, component: string | undefined): string {
  if (!existsSync(path)) throw errors.fileNotFound(path);
  if (!statSync(path).isDirectory()) return path;
  const manifestPath = join(path, BUNDLE_MANIFEST);
  if (!existsSync(manifestPath)) throw errors.fileNotFound(manifestPath);
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as BundleManifest;
  const names = Object.keys(manifest.components);
  const name = component ?? (names.length === 1 ? names[0] : undefined);
  const file = name === undefined ? undefined : manifest.components[name];
  if (file === undefined) {
    throw errors.invalidModel(
      path,
      component === undefined
        ? `the bundle has ${names.length} components`
        : `the bundle has no component "${component}"`,
      `name one of ${names.join(", ")} (SessionOptions.component, or --component)`,
    );
  }
  return join(path, file);
}

function wrapSession(
  ort: OrtModule,
  session: InferenceSession,
  provider: Provider,
  notes: readonly string[],
  profileDir: string | undefined,
): RuntimeSession {
  let trace: string | undefined;
  const convert = (feeds: DataRecord) => toOrtFeeds(ort, feeds);
  return {
    inputs: signatureOf(session.inputMetadata),
    outputs: signatureOf(session.outputMetadata),
    provider,
    notes,
    toOrtFeeds: convert,
    runRaw: (feeds) => session.run(feeds),
    async run(feeds, outputNames) {
      const ortFeeds = convert(feeds);
      const fetched = outputNames
        ? await session.run(ortFeeds, [...outputNames])
        : await session.run(ortFeeds);
      return fromOrtRecord(fetched as Record<string, import("onnxruntime-node").Tensor>);
    },
    async endProfiling() {
      if (!profileDir) return undefined;
      if (trace) return trace;
      await session.endProfiling();
      // onnxruntime-node does not return the file name; the folder holds only this session's.
      const file = readdirSync(profileDir).find((f) => f.endsWith(".json"));
      trace = file === undefined ? undefined : join(profileDir, file);
      return trace;
    },
    async release() {
      await session.release();
      if (profileDir) rmSync(profileDir, { recursive: true, force: true });
    },
  };
}
