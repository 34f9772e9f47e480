import type { Model } from "../ir/model.js";
import type { DataRecord, SessionFactory } from "../plugin/types.js";
import type { TargetSpec } from "../recipe/types.js";
import { openSession, type RuntimeSession, type SessionOptions } from "./session.js";

/** A SessionFactory that can also hand out the session itself (many batches, one session). */
export interface RuntimeSessionFactory extends SessionFactory {
  open(model: Model): Promise<RuntimeSession>;
}

/** The sessions passes get: the recipe's target (providers, fallback, threads) for every model. */
export function createSessionFactory(
  target: Partial<TargetSpec> = {},
  options: Omit<SessionOptions, "target"> = {},
): RuntimeSessionFactory {
  const open = (model: Model) => openSession(model, { ...options, target });
  return {
    open,
    async run(model, inputs, runOptions = {}) {
      const session = await open(model);
      try {
        const results: DataRecord[] = [];
        for (const record of inputs) results.push(await session.run(record, runOptions.outputs));
        return results;
      } finally {
        await session.release();
      }
    },
  };
}

/** Sessions on ONNX Runtime's CPU provider: fixtures and benchmarks that need no recipe target. */
export function createCpuSessions(options: { threads?: number } = {}): SessionFactory {
  return createSessionFactory({ providers: ["cpu"], threads: options.threads ?? 0 });
}
