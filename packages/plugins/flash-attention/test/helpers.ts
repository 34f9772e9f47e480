import {
  decodeModel,
  encodeModel,
  type Model,
  type ModelBundle,
  type RewriteReport,
  singleModelBundle,
} from "@lathe/core";
import { type RewriteOptions, rewriteAttention } from "../src/pass.js";

export const DEFAULTS: RewriteOptions = {
  target: "cpu",
  prefer: "contrib",
  include: [],
  exclude: [],
  explain: false,
};

/** A rewritten copy of a model (re-decoded from its bytes, so the original stays untouched). */
export async function rewritten(
  model: Model,
  options: Partial<RewriteOptions> = {},
): Promise<{ model: Model; report: RewriteReport }> {
  const copy = decodeModel(encodeModel(model));
  const bundle: ModelBundle = singleModelBundle(copy);
  const reports = rewriteAttention(bundle, { ...DEFAULTS, ...options });
  return { model: copy, report: [...reports.values()][0]! };
}
