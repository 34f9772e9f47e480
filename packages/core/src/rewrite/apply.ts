import { removeDeadFrom } from "../graph/dead-code.js";
import { createBuilder } from "../ir/builder.js";
import type { Graph } from "../ir/graph.js";
import type { Model } from "../ir/model.js";
import type { Node } from "../ir/node.js";
import type { Value } from "../ir/value.js";
import { isMatch, type Match, matchPattern } from "./matcher.js";
import { type OpPattern, opPatterns } from "./pattern.js";
import type { RewriteContext, RewriteRule } from "./rule.js";

/** One rule's verdict on one anchor node. */
export interface RuleOutcome {
  readonly rule: string;
  readonly fused: boolean;
  /** Why the rule declined (structure, check or safety); absent when it fused. */
  readonly reason?: string;
  /** True when the pattern matched and the safety check or the rule's check declined. */
  readonly matched?: boolean;
}

/** Everything the rules said about one anchor node (for `--explain`). */
export interface AnchorTrace {
  readonly anchor: string;
  readonly op: string;
  /** The rule that fused it, if any. */
  readonly fusedBy: string | undefined;
  /** Set when the anchor was not tried (excluded by name). */
  readonly skipped?: string;
  readonly outcomes: readonly RuleOutcome[];
}

export interface RewriteReport {
  readonly modified: boolean;
  readonly trace: readonly AnchorTrace[];
  /** Fusions per rule name. */
  readonly fused: Readonly<Record<string, number>>;
  /**
   * Anchors no rule fused, by the reason of the first rule whose pattern matched (its check or
   * the safety check declined: the telling reason), else of the last rule.
   */
  readonly declined: Readonly<Record<string, number>>;
}

export interface ApplyOptions {
  /** A reason to leave an anchor alone (include/exclude by name), or undefined to try it. */
  skip?: (anchor: Node) => string | undefined;
}

interface PreparedRule {
  rule: RewriteRule<unknown>;
  anchor: OpPattern;
  /** How many nodes downstream of the anchor the root may be. */
  depth: number;
  root: OpPattern;
}

/**
 * Applies rules to the model's main graph: for every anchor node, the first rule that matches,
 * passes its check and is safe to apply rewrites it. Matched nodes are removed only when
 * nothing else reads them; the graph is re-sorted after any change.
 */
export function applyRewriteRules<Data>(
  model: Model,
  rules: readonly RewriteRule<Data>[],
  options: ApplyOptions = {},
): RewriteReport {
  const graph = model.graph;
  const prepared = rules.map((r) => prepare(r as RewriteRule<unknown>));
  const trace: AnchorTrace[] = [];
  const fused: Record<string, number> = {};
  const declined: Record<string, number> = {};
  const context: RewriteContext = { model, graph };
  let modified = false;

  for (const node of graph.nodes()) {
    const candidates = prepared.filter((p) => sameOp(p.anchor, node));
    if (candidates.length === 0) continue;
    if (node.graph !== graph) continue; // removed by an earlier rewrite
    const skipped = options.skip?.(node);
    if (skipped) {
      trace.push({ anchor: node.name, op: node.opType, fusedBy: undefined, skipped, outcomes: [] });
      continue;
    }
    const outcomes: RuleOutcome[] = [];
    let fusedBy: string | undefined;
    for (const p of candidates) {
      const outcome = tryRule(p, node, context);
      outcomes.push(outcome);
      if (outcome.fused) {
        fusedBy = p.rule.name;
        fused[fusedBy] = (fused[fusedBy] ?? 0) + 1;
        modified = true;
        break;
      }
    }
    if (!fusedBy) {
      const telling = outcomes.find((o) => o.matched) ?? outcomes.at(-1);
      const reason = telling?.reason ?? "no rule";
      declined[reason] = (declined[reason] ?? 0) + 1;
    }
    trace.push({ anchor: node.name, op: node.opType, fusedBy, outcomes });
  }
  if (modified) graph.sort();
  return { modified, trace, fused, declined };
}

/** The trace as text lines, one block per anchor. */
export function formatTrace(trace: readonly AnchorTrace[]): string[] {
  const lines: string[] = [];
  for (const t of trace) {
    if (t.skipped) {
      lines.push(`${t.op} "${t.anchor}": skipped (${t.skipped})`);
      continue;
    }
    lines.push(`${t.op} "${t.anchor}": ${t.fusedBy ? `fused by ${t.fusedBy}` : "not fused"}`);
    for (const o of t.outcomes) {
      if (!o.fused) lines.push(`  ${o.rule}: declined: ${o.reason}`);
    }
  }
  return lines;
}

function prepare(rule: RewriteRule<unknown>): PreparedRule {
  if (rule.pattern.kind !== "op")
    throw new Error(`rule ${rule.name}: the pattern's root must be an op`);
  const root = rule.pattern;
  let anchor: OpPattern | undefined;
  let depth = 0;
  for (const [p, d] of opPatterns(root)) {
    if (rule.anchor === undefined ? p === root : p.capture === rule.anchor) {
      anchor ??= p;
      depth = Math.max(depth, d);
    }
  }
  if (!anchor) throw new Error(`rule ${rule.name}: no op captured as "${rule.anchor}"`);
  return { rule, anchor, depth, root };
}

function sameOp(p: OpPattern, node: Node): boolean {
  return p.opType === node.opType && p.domain === node.domain;
}

function tryRule(p: PreparedRule, anchor: Node, context: RewriteContext): RuleOutcome {
  const name = p.rule.name;
  let match: Match | undefined;
  let failure = { depth: -1, reason: `no ${p.root.opType} reads it within ${p.depth} steps` };
  for (const root of downstream(anchor, p.depth)) {
    if (!sameOp(p.root, root)) continue;
    const result = matchPattern(p.root, root.outputs[p.root.outputIndex]!);
    if (isMatch(result)) {
      const bound = p.rule.anchor === undefined ? root : result.nodes.get(p.rule.anchor);
      if (bound === anchor) {
        match = result;
        break;
      }
      continue;
    }
    if (result.depth >= failure.depth) failure = result;
  }
  if (!match) return { rule: name, fused: false, reason: failure.reason };
  const unsafe = outsideReader(match, p.rule, context.graph);
  if (unsafe) return { rule: name, fused: false, reason: unsafe, matched: true };
  const verdict = p.rule.check
    ? p.rule.check(match, context)
    : { ok: true as const, data: undefined };
  if (!verdict.ok) return { rule: name, fused: false, reason: verdict.reason, matched: true };
  apply(p.rule, match, verdict.data, anchor, context);
  return { rule: name, fused: true };
}

/** Nodes reading `start`'s outputs, transitively, up to `depth` steps (with `start`). */
function downstream(start: Node, depth: number): Node[] {
  const seen = new Set<Node>([start]);
  let frontier = [start];
  for (let d = 0; d < depth; d++) {
    const next: Node[] = [];
    for (const n of frontier)
      for (const out of n.outputs)
        for (const use of out.uses())
          if (!seen.has(use.node)) {
            seen.add(use.node);
            next.push(use.node);
          }
    frontier = next;
  }
  return [...seen];
}

/** Why the match cannot be removed safely: an intermediate value read outside the match. */
function outsideReader(match: Match, rule: RewriteRule<unknown>, graph: Graph): string | undefined {
  const replaced = new Set<Value>([match.root]);
  for (const name of rule.alsoReplaces ?? []) {
    const value = match.values.get(name);
    if (value) replaced.add(value);
  }
  const covered = (n: Node) => match.internal.has(n) || match.shared.has(n);
  for (const node of match.internal) {
    for (const out of node.outputs) {
      if (replaced.has(out)) continue;
      if (graph.outputs.includes(out))
        return `"${out.name}" (output of ${node.opType} "${node.name}") is also a graph output`;
      const reader = out.uses().find((u) => !covered(u.node));
      if (reader)
        return `"${out.name}" (output of ${node.opType} "${node.name}") has another consumer outside the pattern: ${reader.node.opType} "${reader.node.name}"`;
    }
  }
  return undefined;
}

function apply(
  rule: RewriteRule<unknown>,
  match: Match,
  data: unknown,
  anchor: Node,
  context: RewriteContext,
): void {
  const { model, graph } = context;
  const builder = createBuilder({
    graph,
    opset: model.opset("") ?? 21,
    opsets: Object.fromEntries(model.opsetImports),
    namePrefix: `${anchor.name}/${rule.name}`,
  });
  const replacements = rule.rewrite(match, data, { ...context, builder });
  for (const [old, replacement] of replacements) {
    if (graph.outputs.includes(old)) {
      // a graph output keeps its name and type: callers feed and read by name
      const name = old.name;
      old.name = `${name}__replaced`;
      replacement.name = name;
      replacement.type ??= old.type;
    }
    old.replaceAllUsesWith(replacement, graph);
  }
  for (const [domain, version] of builder.opsets)
    if (!model.opsetImports.has(domain)) model.opsetImports.set(domain, version);
  const seeds = [...match.internal, ...match.shared];
  // what the match read may have been read only by it (a rotation the fused op now does)
  for (const value of [...replacements.keys(), ...match.values.values()]) {
    const producer = value.producer();
    if (producer) seeds.push(producer);
  }
  removeDeadFrom(seeds, graph);
}
