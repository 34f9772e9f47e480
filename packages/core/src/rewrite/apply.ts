import { removeDeadFrom } from "../graph/dead-code.js";
import { NameScope } from "../graph/naming.js";
import { replaceValue } from "../graph/replace.js";
import { type Builder, createBuilder } from "../ir/builder.js";
import type { Graph } from "../ir/graph.js";
import type { Model } from "../ir/model.js";
import type { Node } from "../ir/node.js";
import type { Value } from "../ir/value.js";
import { isMatch, type Match, matchPattern } from "./matcher.js";
import { type OpPattern, opPatterns } from "./pattern.js";
import type { RewriteContext, RewriteRule } from "./rule.js";
import { planShape, type ShapePlan } from "./shape-of.js";

/** One rule's verdict on one anchor node. */
export interface RuleOutcome {
  readonly rule: string;
  readonly fused: boolean;
  /** Why the rule declined (structure, check or safety); absent when it fused. */
  readonly reason?: string;
  /** True when the pattern matched and the safety check or the rule's check declined. */
  readonly matched?: boolean;
  /**
   * Readers of a removed value that read only its shape (`Shape`, `Size`), rewired to a shape
   * computed from what stays: one line each, for the trace.
   */
  readonly rewired?: readonly string[];
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
  /** The graph to rewrite: the main graph (default) or a subgraph of the model (see `graphScopes`). */
  graph?: Graph;
}

interface PreparedRule {
  rule: RewriteRule<unknown>;
  /** The anchor's op; several when alternatives capture it under one name (MatMul, FusedMatMul). */
  anchors: readonly OpPattern[];
  /** How many nodes downstream of the anchor the root may be. */
  depth: number;
  /** The root's op, or one per alternative when the root is an `anyOf` of ops. */
  roots: readonly OpPattern[];
}

/**
 * Applies rules to one graph of the model (the main graph unless `options.graph`): for every anchor node, the first rule that matches,
 * passes its check and is safe to apply rewrites it. Matched nodes are removed only when
 * nothing else reads them; the graph is re-sorted after any change.
 */
export function applyRewriteRules<Data>(
  model: Model,
  rules: readonly RewriteRule<Data>[],
  options: ApplyOptions = {},
): RewriteReport {
  const graph = options.graph ?? model.graph;
  const prepared = rules.map((r) => prepare(r as RewriteRule<unknown>));
  const trace: AnchorTrace[] = [];
  const fused: Record<string, number> = {};
  const declined: Record<string, number> = {};
  const context: RewriteContext = { model, graph };
  let modified = false;

  for (const node of graph.nodes()) {
    const candidates = prepared.filter((p) => p.anchors.some((a) => sameOp(a, node)));
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
      for (const r of o.rewired ?? []) lines.push(`  ${o.rule}: rewired ${r}`);
    }
  }
  return lines;
}

function prepare(rule: RewriteRule<unknown>): PreparedRule {
  const roots = rootOps(rule);
  const anchors: OpPattern[] = [];
  let depth = 0;
  for (const [p, d] of opPatterns(rule.pattern)) {
    if (rule.anchor === undefined ? roots.includes(p) : p.capture === rule.anchor) {
      anchors.push(p);
      depth = Math.max(depth, d);
    }
  }
  if (anchors.length === 0)
    throw new Error(`rule ${rule.name}: no op captured as "${rule.anchor}"`);
  return { rule, anchors, depth, roots };
}

/**
 * The ops a rule's root may be: the root itself, or each alternative of a root `anyOf` (a
 * product written as MatMul or as ONNX Runtime's FusedMatMul).
 */
function rootOps(rule: RewriteRule<unknown>): OpPattern[] {
  const { pattern } = rule;
  if (pattern.kind === "op") return [pattern];
  if (pattern.kind === "anyOf" && pattern.alternatives.every((a) => a.kind === "op"))
    return pattern.alternatives as OpPattern[];
  throw new Error(`rule ${rule.name}: the pattern's root must be an op or an anyOf of ops`);
}

function sameOp(p: OpPattern, node: Node): boolean {
  return p.opType === node.opType && p.domain === node.domain;
}

function tryRule(p: PreparedRule, anchor: Node, context: RewriteContext): RuleOutcome {
  const name = p.rule.name;
  let match: Match | undefined;
  const rootNames = [...new Set(p.roots.map((r) => r.opType))].join(" or ");
  let failure = { depth: -1, reason: `no ${rootNames} reads it within ${p.depth} steps` };
  for (const root of downstream(anchor, p.depth)) {
    // one node is tried once: alternatives of one op type are the pattern's anyOf to choose
    const alternative = p.roots.find((r) => sameOp(r, root));
    if (!alternative) continue;
    const result = matchPattern(p.rule.pattern, root.outputs[alternative.outputIndex]!);
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
  const readers = outsideReaders(match, p.rule, context);
  if (typeof readers === "string")
    return { rule: name, fused: false, reason: readers, matched: true };
  const verdict = p.rule.check
    ? p.rule.check(match, context)
    : { ok: true as const, data: undefined };
  if (!verdict.ok) return { rule: name, fused: false, reason: verdict.reason, matched: true };
  apply(p.rule, match, verdict.data, anchor, context, readers);
  if (readers.length === 0) return { rule: name, fused: true };
  return { rule: name, fused: true, rewired: readers.map(describeRewire) };
}

/** A reader outside the match that needs only the shape of a value the rewrite removes. */
interface ShapeReader {
  readonly reader: Node;
  readonly value: Value;
  readonly plan: ShapePlan;
}

/** Ops that read only their input's shape, never its values. */
const SHAPE_ONLY = new Set(["Shape", "Size"]);

function describeRewire({ reader, value }: ShapeReader): string {
  return `${reader.opType} "${reader.name}" (it reads only the shape of "${value.name}"): the shape is computed from the inputs`;
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

/**
 * Why the match cannot be removed safely (an intermediate value that is a graph output or is
 * read outside the match), or the readers that need only an intermediate's shape: those are
 * rewired to the shape computed from what stays, so they do not block the rewrite.
 */
function outsideReaders(
  match: Match,
  rule: RewriteRule<unknown>,
  context: RewriteContext,
): ShapeReader[] | string {
  const { graph, model } = context;
  const replaced = new Set<Value>([match.root]);
  for (const name of rule.alsoReplaces ?? []) {
    const value = match.values.get(name);
    if (value) replaced.add(value);
  }
  const covered = (n: Node) => match.internal.has(n) || match.shared.has(n);
  const stays = (v: Value) => {
    const producer = v.producer();
    return !producer || !match.internal.has(producer);
  };
  const shapeReaders: ShapeReader[] = [];
  for (const node of match.internal) {
    for (const out of node.outputs) {
      if (replaced.has(out)) continue;
      const what = `"${out.name}" (output of ${node.opType} "${node.name}")`;
      if (graph.outputs.includes(out)) return `${what} is also a graph output`;
      for (const { node: reader } of out.uses()) {
        if (covered(reader)) continue;
        if (!SHAPE_ONLY.has(reader.opType) || reader.domain !== "")
          return `${what} has another consumer outside the pattern: ${reader.opType} "${reader.name}"`;
        if ((model.opset("") ?? 0) < 10)
          return `${what} is read by ${reader.opType} "${reader.name}", and rebuilding its shape needs opset 10 (Slice with inputs)`;
        const plan = planShape(out, stays);
        if (typeof plan === "string")
          return `${what} is read by ${reader.opType} "${reader.name}", and ${plan}`;
        if (!shapeReaders.some((r) => r.reader === reader))
          shapeReaders.push({ reader, value: out, plan });
      }
    }
  }
  return shapeReaders;
}

/** Gives each shape-only reader its shape from what stays (the readers become dead). */
function rewireShapeReaders(
  readers: readonly ShapeReader[],
  builder: Builder,
  graph: Graph,
  names: NameScope,
) {
  for (const { reader, plan } of readers) {
    const shape = plan(builder);
    let replacement: Value;
    if (reader.opType === "Size") {
      replacement = builder.ReduceProd(shape, { keepdims: 0 });
    } else {
      const start = reader.attributes.has("start") ? reader.getInt("start", 0) : undefined;
      const end = reader.attributes.has("end") ? reader.getInt("end", 0) : undefined;
      replacement =
        start === undefined && end === undefined
          ? shape
          : builder.Slice(shape, builder.int64s([start ?? 0]), builder.int64s([end ?? 2 ** 62]));
    }
    replaceValue(reader.outputs[0]!, replacement, graph, names);
  }
}

function apply(
  rule: RewriteRule<unknown>,
  match: Match,
  data: unknown,
  anchor: Node,
  context: RewriteContext,
  shapeReaders: readonly ShapeReader[],
): void {
  const { model, graph } = context;
  const builder = createBuilder({
    graph,
    opset: model.opset("") ?? 21,
    opsets: Object.fromEntries(model.opsetImports),
    namePrefix: `${anchor.name}/${rule.name}`,
  });
  const replacements = rule.rewrite(match, data, { ...context, builder });
  // a graph output keeps its name and type: callers feed and read by name
  const names = new NameScope(graph);
  for (const [old, replacement] of replacements) replaceValue(old, replacement, graph, names);
  rewireShapeReaders(shapeReaders, builder, graph, names);
  for (const [domain, version] of builder.opsets)
    if (!model.opsetImports.has(domain)) model.opsetImports.set(domain, version);
  const seeds = [...match.internal, ...match.shared, ...shapeReaders.map((r) => r.reader)];
  // what the match read may have been read only by it (a rotation the fused op now does)
  for (const value of [...replacements.keys(), ...match.values.values()]) {
    const producer = value.producer();
    if (producer) seeds.push(producer);
  }
  removeDeadFrom(seeds, graph);
}
