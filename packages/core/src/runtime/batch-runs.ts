import type { Model } from "../ir/model.js";
import type { DataRecord, SessionFactory } from "../plugin/types.js";
import type { RuntimeSession } from "./session.js";

/** Runs one batch of records on the model and returns their outputs, in order. */
export type RunBatch = (batch: readonly DataRecord[]) => Promise<DataRecord[]>;

/**
 * Calls `use` with a batch runner on `model`. With `sessions.open`, one session serves every
 * batch (opened at the first, released when `use` ends), so the model is encoded and
 * initialized once rather than per batch; factories without it run each batch on its own.
 * The model must not change while `use` runs.
 */
export async function withBatchRuns<T>(
  sessions: SessionFactory,
  model: Model,
  outputs: readonly string[],
  use: (run: RunBatch) => Promise<T>,
): Promise<T> {
  if (!sessions.open) return use((batch) => sessions.run(model, batch, { outputs }));
  let session: RuntimeSession | undefined;
  try {
    return await use(async (batch) => {
      session ??= await sessions.open!(model);
      const results: DataRecord[] = [];
      for (const record of batch) results.push(await session.run(record, outputs));
      return results;
    });
  } finally {
    await session?.release();
  }
}
