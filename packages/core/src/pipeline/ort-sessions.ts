import type { SessionFactory } from "../plugin/types.js";
import { createSessionFactory } from "../runtime/session-factory.js";

/** Sessions on ONNX Runtime's CPU provider (kept for callers from before the runtime). */
export function createCpuSessions(options: { threads?: number } = {}): SessionFactory {
  return createSessionFactory({ providers: ["cpu"], threads: options.threads ?? 0 });
}
