import { minimumIrVersion } from "../check/ir-version.js";
import { errors } from "../diagnostics.js";
import type { Graph } from "../ir/graph.js";
import type { Model } from "../ir/model.js";
import type { Node } from "../ir/node.js";
import { ortDefaultDomainSchema } from "../schemas/ort-default-domain.js";
import type { Adapter, AdapterContext } from "./adapter.js";
import { ADAPTERS, NEWEST_CONVERTIBLE_OPSET, OLDEST_CONVERTIBLE_OPSET } from "./adapters/table.js";
import { GraphEditor } from "./edit.js";
import { defaultOpHistory, type OpHistory } from "./history.js";

/** How often one adapter changed nodes of one op while crossing one version. */
export interface AdapterUse {
  readonly adapter: string;
  readonly op: string;
  /** The version the nodes were raised to. */
  readonly version: number;
  readonly nodes: number;
}

/** What `convertOpset` did. */
export interface OpsetConversion {
  readonly from: number;
  readonly to: number;
  /** Adapters that rewrote nodes, in the order they ran (compatible ops are not listed). */
  readonly adapters: readonly AdapterUse[];
  /** Default-domain nodes whose op changed on the way but needed no rewrite (counted per version). */
  readonly compatibleNodes: number;
}

/** One node that cannot be converted exactly, and why. */
export interface ConversionProblem {
  /** `node "name" (Op) in graph "g"` */
  readonly where: string;
  readonly op: string;
  /** The version at which the node cannot follow. */
  readonly version: number;
  readonly reason: string;
}

export interface ConvertOpsetOptions {
  /** Which ops changed when; default: the ONNX op-schema table in core. */
  readonly history?: OpHistory;
}

/** The opset a model's default domain imports, or the error saying why there is none to convert. */
function sourceOpset(model: Model, to: number): number {
  if (!Number.isInteger(to) || to < OLDEST_CONVERTIBLE_OPSET || to > NEWEST_CONVERTIBLE_OPSET)
    throw errors.opsetUnsupported(
      `opset ${to}`,
      `Lathe converts the default domain between opsets ${OLDEST_CONVERTIBLE_OPSET} and ${NEWEST_CONVERTIBLE_OPSET}`,
    );
  const from = model.opset("");
  if (from === undefined)
    throw errors.opsetUnsupported(
      "the model",
      "it imports no default-domain (ai.onnx) opset, so there is nothing to convert",
    );
  if (from > to)
    throw errors.opsetUnsupported(
      `opset ${from}`,
      `the model imports opset ${from}, newer than ${to}; only up-conversion is supported`,
    );
  if (from < OLDEST_CONVERTIBLE_OPSET)
    throw errors.opsetUnsupported(
      `opset ${from}`,
      `the model imports opset ${from}; conversion starts at opset ${OLDEST_CONVERTIBLE_OPSET}`,
    );
  return from;
}

/** The graphs whose default-domain nodes follow a given opset: the model's, and each function's. */
function scopes(model: Model, from: number): { graph: Graph; from: number }[] {
  const list = [{ graph: model.graph, from }];
  for (const fn of model.functions.values()) {
    const version = fn.opsetImports.get("") ?? fn.opsetImports.get("ai.onnx");
    if (version !== undefined) list.push({ graph: fn.graph, from: version });
  }
  return list;
}

function isDefaultDomain(node: Node): boolean {
  return node.domain === "" || node.domain === "ai.onnx";
}

function describe(node: Node): string {
  const name = node.name ? `"${node.name}"` : "(unnamed)";
  const graph = node.graph?.name ? ` in graph "${node.graph.name}"` : "";
  return `node ${name} (${node.opType})${graph}`;
}

/**
 * Why `model` cannot be converted to `to` exactly: every node of the default domain whose op
 * changed on the way without an adapter, whose adapter refuses it, or that no longer exists.
 * Empty when `convertOpset` would succeed. Throws OPSET_UNSUPPORTED for a version outside 7–23.
 */
export function opsetConversionProblems(
  model: Model,
  to: number,
  options: ConvertOpsetOptions = {},
): ConversionProblem[] {
  const history = options.history ?? defaultOpHistory();
  const problems: ConversionProblem[] = [];
  for (const scope of scopes(model, sourceOpset(model, to))) {
    for (const node of scope.graph.allNodes()) {
      if (!isDefaultDomain(node)) continue;
      const problem = nodeProblem(node, scope.from, to, history);
      if (problem) problems.push({ where: describe(node), op: node.opType, ...problem });
    }
  }
  return problems;
}

function nodeProblem(
  node: Node,
  from: number,
  to: number,
  history: OpHistory,
): { version: number; reason: string } | undefined {
  let op = node.opType;
  // ONNX Runtime's own default-domain ops (schemas/ort-default-domain.ts), as its optimizer
  // saves them: ORT runs its LayerNormalization of opsets 1–16 as the standard one of 17 (same
  // inputs, outputs and attributes), and SimplifiedLayerNormalization at every opset. The node
  // stays as written; above 16 the LayerNormalization is the standard op.
  if (!history.definedAt(op, from) && ortDefaultDomainSchema("", op, from)) return undefined;
  if (!history.knows(op))
    return {
      version: from,
      reason: `${op} is not an operator of the default domain (the op-schema table does not know it), so whether it changed cannot be told`,
    };
  // Deprecated at `from` is fine (GroupNormalization-18 is): converting is how it leaves.
  if (!history.definedAt(op, from))
    return { version: from, reason: `${op} is not an operator of opset ${from}` };
  for (let version = from + 1; version <= to; version++) {
    const adapter = ADAPTERS.get(version)?.get(op);
    if (!adapter) {
      if (history.changedAt(op, version))
        return {
          version,
          reason: `${op} changed at opset ${version} and Lathe has no adapter for it`,
        };
      continue;
    }
    // A check reads the node as written; once renamed, the renaming adapter vouched for it.
    const reason = op === node.opType ? adapter.check?.(node, { target: to }) : undefined;
    if (reason) return { version, reason };
    op = adapter.becomes ?? op;
  }
  if (!history.existsAt(op, to))
    return { version: to, reason: `${op} is not an operator of opset ${to}` };
  return undefined;
}

/**
 * Raises the default-domain opset of `model` (and of its functions) to `to`, rewriting every
 * node whose op's signature changed on the way (attributes that became inputs, renamed or
 * removed attributes, changed defaults, Upsample → Resize) so that it computes what it did.
 * Conversion is exact or refused: when any node cannot follow, nothing is changed and
 * OPSET_CONVERSION_REFUSED names each node and why. The IR version rises to what `to` needs.
 */
export function convertOpset(
  model: Model,
  to: number,
  options: ConvertOpsetOptions = {},
): OpsetConversion {
  const from = sourceOpset(model, to);
  const problems = opsetConversionProblems(model, to, options);
  if (problems.length > 0) throw errors.opsetConversionRefused(from, to, problems);
  const editor = new GraphEditor(model);
  const uses = new Map<string, { use: Omit<AdapterUse, "nodes">; nodes: number }>();
  let compatibleNodes = 0;
  const fromUpsample = new WeakSet<Node>();
  for (const scope of scopes(model, from)) {
    for (let version = scope.from + 1; version <= to; version++) {
      const table = ADAPTERS.get(version);
      if (!table) continue;
      const context: AdapterContext = { editor, version, target: to, fromUpsample };
      // A snapshot: nodes an adapter inserts are already in this version's form.
      for (const node of [...scope.graph.allNodes()]) {
        if (!isDefaultDomain(node)) continue;
        const adapter: Adapter | undefined = table.get(node.opType);
        if (!adapter) continue;
        const op = node.opType;
        if (adapter.adapt(node, context) === false) {
          compatibleNodes++;
          continue;
        }
        const key = `${version}\u0000${op}\u0000${adapter.name}`;
        const entry = uses.get(key) ?? { use: { adapter: adapter.name, op, version }, nodes: 0 };
        entry.nodes++;
        uses.set(key, entry);
      }
    }
  }
  model.opsetImports.delete("ai.onnx");
  model.opsetImports.set("", to);
  for (const fn of model.functions.values()) {
    if (fn.opsetImports.delete("ai.onnx") || fn.opsetImports.has("")) fn.opsetImports.set("", to);
  }
  model.irVersion = Math.max(model.irVersion, minimumIrVersion(to));
  return {
    from,
    to,
    adapters: [...uses.values()].map(({ use, nodes }) => ({ ...use, nodes })),
    compatibleNodes,
  };
}
