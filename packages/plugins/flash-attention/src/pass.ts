import {
  applyRewriteRules,
  createNameFilter,
  definePass,
  formatTrace,
  type Graph,
  GraphCoverage,
  graphScopes,
  inferShapes,
  inlineFunctions,
  type Model,
  type ModelBundle,
  type NamePattern,
  type OnnxFunction,
  type PassStatistics,
  type PassTarget,
  type RewriteReport,
  type ScopeFilter,
  type Value,
  visitGraphs,
} from "@lathe/core";
import type { AttentionOptions, AttentionTarget } from "./analyze.js";
import { flashAttentionOptionsSchema } from "./generated/options.js";
import { attentionRules } from "./rules.js";

/** The pass's options; `target: auto` reads the recipe's first provider. */
export interface FlashAttentionOptions extends Omit<AttentionOptions, "target"> {
  /**
   * Execution provider the replacement is chosen for; auto: the recipe's first target provider
   * (tensorrt counts as cuda).
   * @default "auto"
   */
  target: "auto" | AttentionTarget;
  /**
   * Patterns on the Softmax node's name (JavaScript regular expressions, searched anywhere in the
   * name: a plain name matches every name containing it; anchor with ^ and $, escape . ( [ with \
   * to match them literally). When any are given, only matching nodes have their attention
   * rewritten; empty: all.
   * @default []
   */
  include: NamePattern[];
  /**
   * Patterns on the Softmax node's name (JavaScript regular expressions, searched anywhere in the
   * name: a plain name matches every name containing it; anchor with ^ and $, escape . ( [ with \
   * to match them literally). Matching nodes keep their attention unfused, also when include
   * matches them.
   * @default []
   */
  exclude: NamePattern[];
  /**
   * Log, for every Softmax, the rule that fused it or why each rule declined.
   * @default false
   */
  explain: boolean;
}

/** What `rewriteAttention` needs: the pass's options with the target resolved. */
export type RewriteOptions = Omit<FlashAttentionOptions, "target"> & { target: AttentionTarget };

/** The provider to fuse for: the recipe's first (TensorRT runs CUDA's contrib kernels). */
export function attentionTarget(target: PassTarget): AttentionTarget {
  const first = target.providers[0] ?? "cpu";
  return first === "tensorrt" ? "cuda" : first;
}

/**
 * What the pass did to one component: the rewrite reports of all its graphs together, which
 * graphs were visited and which were not (and the Softmax anchors inside those).
 */
export interface ComponentRewrite extends RewriteReport {
  readonly coverage: GraphCoverage;
  /** Softmax nodes in graphs the pass did not visit. */
  readonly anchorsNotVisited: number;
  /** Calls of model-local functions holding a Softmax, inlined so their attention is fused. */
  readonly inlinedCalls: number;
}

/**
 * Function bodies left in the model: those holding a Softmax were inlined at their calls (as
 * ONNX Runtime does when it loads the model) unless the inliner refused them, with its reason.
 */
function functionBodies(refused: ReadonlyMap<string, string>): ScopeFilter {
  return (scope) => {
    if (scope.kind !== "function") return undefined;
    const why = refused.get(scope.function!.key);
    return why
      ? `function body not inlined: ${why}`
      : "function body (no Softmax in it, or no call of it)";
  };
}

const holdsSoftmax = (fn: OnnxFunction) =>
  [...fn.graph.allNodes()].some((n) => n.opType === "Softmax" && n.domain === "");

/**
 * The pass's work on one bundle: every graph of each component (the main graph and If/Loop/Scan
 * bodies at any depth) is rewritten; the reports per component, for statistics and `explain`.
 */
export function rewriteAttention(
  bundle: ModelBundle,
  options: RewriteOptions,
): Map<string, ComponentRewrite> {
  const rules = attentionRules(options);
  const byName = createNameFilter(options);
  const results = new Map<string, ComponentRewrite>();
  for (const [name, model] of bundle.components) {
    const inlined = inlineFunctions(model, { select: holdsSoftmax });
    const skipFunction = functionBodies(inlined.refused);
    const component = withInferredShapes(model, () => {
      const reports: RewriteReport[] = [];
      let anchorsNotVisited = 0;
      const coverage = visitGraphs(
        model,
        (scope) => {
          reports.push(
            applyRewriteRules(model, rules, { graph: scope.graph, skip: (n) => byName(n.name) }),
          );
        },
        (scope) => {
          const reason = skipFunction(scope);
          if (reason)
            for (const node of scope.graph.allNodes())
              if (node.opType === "Softmax") anchorsNotVisited++;
          return reason;
        },
      );
      return { ...mergeReports(reports), coverage, anchorsNotVisited, inlinedCalls: inlined.calls };
    });
    results.set(name, component);
  }
  return results;
}

function mergeReports(reports: readonly RewriteReport[]): RewriteReport {
  const fused: Record<string, number> = {};
  const declined: Record<string, number> = {};
  for (const r of reports) {
    for (const [k, n] of Object.entries(r.fused)) fused[k] = (fused[k] ?? 0) + n;
    for (const [k, n] of Object.entries(r.declined)) declined[k] = (declined[k] ?? 0) + n;
  }
  return {
    modified: reports.some((r) => r.modified),
    trace: reports.flatMap((r) => r.trace),
    fused,
    declined,
  };
}

/**
 * Runs `work` with every value typed by shape inference (head sizes that exporters compute from
 * the input's shape, such as nn.MultiheadAttention's `embed_dim // num_heads`, become static),
 * then puts back the types the model declared, so the output carries no inferred value_info.
 */
function withInferredShapes<T>(model: Model, work: () => T): T {
  const declared = new Map<Value, Value["type"]>();
  const values = (graph: Graph) => {
    for (const v of graph.inputs) declared.set(v, v.type);
    for (const node of graph) for (const o of node.outputs) declared.set(o, o.type);
  };
  for (const { graph } of graphScopes(model)) values(graph);
  inferShapes(model);
  try {
    return work();
  } finally {
    for (const [value, type] of declared) value.type = type;
  }
}

/**
 * attention-blocks, fused.<rule>, fused-op.<op>, declined.<reason>, skipped, and candidate-nodes:
 * every Softmax the pass looked at or left unvisited (0 says why a model without attention, such
 * as a CNN or a voice-activity detector, is unchanged).
 */
export function attentionStatistics(
  reports: ReadonlyMap<string, RewriteReport & Partial<ComponentRewrite>>,
): PassStatistics {
  const stats: Record<string, number> = {
    "attention-blocks": 0,
    fused: 0,
    declined: 0,
    skipped: 0,
  };
  const add = (key: string, n = 1) => {
    stats[key] = (stats[key] ?? 0) + n;
  };
  const coverage = new GraphCoverage();
  for (const report of reports.values()) {
    for (const t of report.trace) {
      if (t.skipped) {
        add("skipped");
        continue;
      }
      add("attention-blocks");
      if (t.fusedBy) {
        add("fused");
        add(`fused.${t.fusedBy}`);
      } else {
        add("declined");
      }
    }
    for (const [reason, n] of Object.entries(report.declined)) add(`declined: ${reason}`, n);
    if (report.coverage) coverage.add(report.coverage);
    if (report.anchorsNotVisited) add("softmax-not-visited", report.anchorsNotVisited);
    if (report.inlinedCalls !== undefined) add("function-calls-inlined", report.inlinedCalls);
  }
  const candidates =
    stats["attention-blocks"]! + stats.skipped! + (stats["softmax-not-visited"] ?? 0);
  return { ...stats, "candidate-nodes": candidates, ...coverage.toStatistics() };
}

export const flashAttentionRewrite = definePass<FlashAttentionOptions>({
  id: "flash-attention/rewrite",
  summary:
    "Rewrites exported attention (MatMul, scale, mask, Softmax, MatMul) into fused attention operators.",
  description:
    "Matches the attention forms of GPT-2, LLaMA, BERT-style encoders and Stable Diffusion exports around each Softmax and replaces them with com.microsoft GroupQueryAttention (causal), MultiHeadAttention (non-causal) or the standard ONNX Attention (prefer: standard, opset 23 models).",
  options: flashAttentionOptionsSchema,
  introduces: [{ domain: "com.microsoft", version: 1 }],
  run(bundle, context) {
    const options = context.options;
    const target = options.target === "auto" ? attentionTarget(context.target) : options.target;
    if (options.target === "auto") context.logger.info(`fusing for target ${target}`);
    const reports = rewriteAttention(bundle, { ...options, target });
    for (const [component, report] of reports) {
      const lines = formatTrace(report.trace);
      if (options.explain || context.explain)
        for (const line of lines) context.logger.info(`${component}: ${line}`);
      else context.logger.debug(`${component}: ${lines.length} trace lines`);
    }
    const modified = [...reports.values()].some((r) => r.modified);
    return { bundle, modified, statistics: attentionStatistics(reports) };
  },
});
