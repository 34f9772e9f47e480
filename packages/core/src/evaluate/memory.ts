import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { memoryOptionsSchema } from "../generated/options.js";
import { dataTypeInfo } from "../ir/dtype.js";
import { defineMetric } from "../plugin/define.js";
import type { DataRecord, MetricContext } from "../plugin/types.js";
import type { Provider } from "../recipe/types.js";
import { openSession } from "../runtime/index.js";
import { ORT_DATA_TYPES } from "../runtime/ort.js";
import { artifactComponents } from "./artifact.js";
import { mergeComponents } from "./components.js";
import { evaluationInputs } from "./inputs.js";
import { MEMORY_CHILD_SOURCE } from "./memory-child.js";

export interface MemoryOptions {
  /**
   * Runs in the child process before its peak is read.
   * @integer
   * @minimum 1
   * @default 3
   */
  runs: number;
  /** A data set from the recipe's data: to take the input from (default: generated inputs). */
  data?: string;
}

export interface ChildMemory {
  /** Peak RSS in bytes after importing ONNX Runtime, before loading the model. */
  readonly baseline: number;
  /** Peak RSS in bytes after the session was created. */
  readonly loaded: number;
  /** Peak RSS in bytes after the runs. */
  readonly peak: number;
}

/**
 * Loads `file` in a fresh Node process and runs it `runs` times on `record`: peaks of one
 * process hold only one model, so candidates measured one after another do not hide each other.
 */
export async function measureChildMemory(
  file: string,
  record: DataRecord,
  options: { providers: readonly Provider[]; threads: number; runs: number; signal?: AbortSignal },
): Promise<ChildMemory> {
  const dir = await mkdtemp(join(tmpdir(), "lathe-memory-"));
  try {
    const feedsPath = join(dir, "feeds.bin");
    const header: { name: string; type: string; dims: number[]; offset: number; length: number }[] =
      [];
    const parts: Uint8Array[] = [];
    let offset = 0;
    for (const [name, tensor] of Object.entries(record)) {
      // The child rebuilds ORT tensors from these names, which are ORT's spellings already.
      const type = dataTypeInfo(tensor.dataType).name;
      if (!ORT_DATA_TYPES.includes(tensor.dataType))
        throw new Error(`input "${name}" has a type ONNX Runtime's JS API does not carry`);
      // Each array starts 8-aligned, as a BigInt64Array needs.
      const padding = (8 - (offset % 8)) % 8;
      if (padding) parts.push(new Uint8Array(padding));
      offset += padding;
      const bytes = tensor.bytes();
      header.push({ name, type, dims: [...tensor.dims], offset, length: bytes.length });
      parts.push(bytes);
      offset += bytes.length;
    }
    await writeFile(feedsPath, Buffer.concat(parts));
    await writeFile(`${feedsPath}.json`, JSON.stringify(header));
    const ortPath = createRequire(import.meta.url).resolve("onnxruntime-node");
    let stdout: string;
    try {
      ({ stdout } = await promisify(execFile)(
        process.execPath,
        [
          "--input-type=module",
          "-e",
          MEMORY_CHILD_SOURCE,
          ortPath,
          file,
          feedsPath,
          JSON.stringify({
            providers: options.providers,
            threads: options.threads,
            runs: options.runs,
          }),
        ],
        { maxBuffer: 1 << 20, ...(options.signal ? { signal: options.signal } : {}) },
      ));
    } catch (error) {
      // execFile's message repeats the whole command line (the child's source): keep ORT's words.
      const stderr = String((error as { stderr?: unknown }).stderr ?? "").trim();
      // The thrown error's line ("Error: Load model … failed"), not Node's source excerpt.
      const last =
        /^\w*Error: .*$/m.exec(stderr)?.[0] ??
        stderr
          .split("\n")
          .filter((l) => l.trim() !== "")
          .at(-1);
      throw new Error(
        `the memory child process failed${last ? `: ${last}` : ` (${(error as Error).name})`}`,
      );
    }
    const kib = JSON.parse(stdout) as ChildMemory;
    return { baseline: kib.baseline * 1024, loaded: kib.loaded * 1024, peak: kib.peak * 1024 };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export const memoryMetric = defineMetric<MemoryOptions>({
  id: "core/memory",
  summary: "Peak resident memory (bytes) of a fresh process that loads and runs the model.",
  options: memoryOptionsSchema,
  values: { peak: "lower", baseline: "lower", model: "lower", loaded: "lower" },
  async measure(_candidate, context) {
    const perComponent = new Map<string, Record<string, number>>();
    for (const [name, file] of await artifactComponents(context.candidatePath)) {
      const { record, provider } = await firstRecord(file, context);
      const m = await measureChildMemory(file, record, {
        // The provider this process's session ended up on, after any fallback.
        providers: [provider],
        threads: context.target.threads ?? 0,
        runs: context.options.runs,
        signal: context.signal,
      });
      perComponent.set(name, {
        peak: m.peak,
        baseline: m.baseline,
        loaded: m.loaded,
        model: m.peak - m.baseline,
      });
    }
    return mergeComponents(perComponent);
  },
});

async function firstRecord(
  file: string,
  context: MetricContext & { readonly options: Readonly<MemoryOptions> },
): Promise<{ record: DataRecord; provider: Provider }> {
  // The signature comes from a session in this process; the child loads its own.
  const session = await openSession(file, { target: context.target });
  try {
    const data =
      context.options.data === undefined ? undefined : context.data(context.options.data);
    const [record] = await evaluationInputs(session.inputs, session.outputs, {
      target: context.target,
      seed: context.seed,
      samples: 1,
      ...(data ? { data } : {}),
    });
    return { record: record ?? {}, provider: session.provider };
  } finally {
    await session.release();
  }
}
