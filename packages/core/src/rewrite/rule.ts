import type { Builder } from "../ir/builder.js";
import type { Graph } from "../ir/graph.js";
import type { Model } from "../ir/model.js";
import type { Value } from "../ir/value.js";
import type { Match } from "./matcher.js";
import type { Pattern } from "./pattern.js";

/** A check's verdict: go ahead with data for the rewrite, or decline with a reason. */
export type CheckResult<Data> = { ok: true; data: Data } | { ok: false; reason: string };

export function accept<Data>(data: Data): CheckResult<Data> {
  return { ok: true, data };
}

export function decline(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}

export interface RewriteContext {
  readonly model: Model;
  readonly graph: Graph;
}

export interface BuildContext extends RewriteContext {
  /** Builds into the graph; names start with the anchor's name; its opsets join the model's. */
  readonly builder: Builder;
}

/**
 * A rewrite rule in the onnxscript shape: the subgraph it matches (`pattern`), a `check` that
 * says why a structural match does not fit, and a `rewrite` that builds the replacement.
 */
export interface RewriteRule<Data = unknown> {
  readonly name: string;
  readonly description?: string;
  readonly pattern: Pattern;
  /**
   * Capture name of the node the rule is about (e.g. the Softmax of an attention block): the
   * trace lists every node of that op, and matching starts from it. Default: the root.
   */
  readonly anchor?: string;
  /**
   * Captured values, besides the root, that the rewrite replaces: they may be read outside
   * the match (a KV cache's `present` output) because readers are moved to the replacement.
   */
  readonly alsoReplaces?: readonly string[];
  check?(match: Match, context: RewriteContext): CheckResult<Data>;
  /** Returns, for the root and every `alsoReplaces` value, the value that takes its place. */
  rewrite(match: Match, data: Data, context: BuildContext): ReadonlyMap<Value, Value>;
}

/** Identity helper that infers a rule's data type from its `check`. */
export function defineRule<Data>(rule: RewriteRule<Data>): RewriteRule<Data> {
  return rule;
}
