import { errors } from "../diagnostics.js";
import { type Attribute, isAttributeRef } from "../ir/attribute.js";
import { functionKey, type OnnxFunction } from "../ir/function.js";
import type { Graph } from "../ir/graph.js";
import type { Model } from "../ir/model.js";
import { Node } from "../ir/node.js";
import { Value } from "../ir/value.js";
import { NameScope } from "./naming.js";
import { replaceValue } from "./replace.js";
import { graphScopes } from "./traverse.js";

export interface InlineFunctionsOptions {
  /** Which model-local functions to inline at their calls (default: all). */
  readonly select?: (fn: OnnxFunction) => boolean;
}

export interface InlineFunctionsReport {
  /** Calls replaced by a copy of the function's body. */
  readonly calls: number;
  /** The functions inlined (`domain::name`), removed from the model once no call is left. */
  readonly functions: readonly string[];
  /** Selected functions left as they are, with the reason (their calls stay). */
  readonly refused: ReadonlyMap<string, string>;
}

/** Nested calls are inlined too, up to this depth (the ONNX standard forbids recursion). */
const MAX_DEPTH = 32;

/**
 * Replaces each call of a selected model-local function, in the main graph and its subgraphs,
 * by a copy of the function's body: formal inputs bound to the call's inputs (an omitted
 * optional one stays omitted), attribute references to the call's attributes or the function's
 * defaults, the call's outputs keeping their names. This is what ONNX Runtime does to local
 * functions when it loads a model, so the outputs do not change; a pass that edits weights or
 * fuses patterns inlines the functions holding its work so that work is visible. A function
 * whose body has control flow, or imports another version of a domain than the model, is
 * refused with the reason. Functions left without calls are removed.
 */
export function inlineFunctions(
  model: Model,
  options: InlineFunctionsOptions = {},
): InlineFunctionsReport {
  const refused = new Map<string, string>();
  const inlined = new Set<string>();
  let calls = 0;
  const names = new NameScope(model);
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    let found = 0;
    for (const scope of graphScopes(model, { functions: false })) {
      for (const node of scope.graph.nodes()) {
        const fn = model.functions.get(functionKey(node.domain, node.opType, node.overload));
        if (!fn || refused.has(fn.key) || !(options.select?.(fn) ?? true)) continue;
        const reason = refusal(fn, model);
        if (reason) {
          refused.set(fn.key, reason);
          continue;
        }
        inlineCall(node, fn, scope.graph, model, names);
        inlined.add(fn.key);
        calls++;
        found++;
      }
    }
    if (found === 0) break;
  }
  // removing a function can leave another uncalled (one only it called): repeat until none goes
  for (let removed = true; removed; ) {
    removed = false;
    for (const key of inlined)
      if (model.functions.has(key) && !isCalled(model, key)) {
        model.functions.delete(key);
        removed = true;
      }
  }
  return { calls, functions: [...inlined], refused };
}

/** Why a function's body cannot be copied into the model's graphs as it is. */
function refusal(fn: OnnxFunction, model: Model): string | undefined {
  for (const node of fn.graph.allNodes())
    if (node.subgraphs().length > 0)
      return `its body has control flow (${node.opType} "${node.name}"), which is not inlined`;
  for (const [domain, version] of fn.opsetImports) {
    const own = model.opsetImports.get(domain);
    if (own !== undefined && own !== version)
      return `its body imports "${domain || "ai.onnx"}" ${version}, the model ${own}: its ops would change meaning`;
  }
  return undefined;
}

function inlineCall(
  call: Node,
  fn: OnnxFunction,
  graph: Graph,
  model: Model,
  names: NameScope,
): void {
  for (const [domain, version] of fn.opsetImports)
    if (!model.opsetImports.has(domain)) model.opsetImports.set(domain, version);
  const bound = new Map<Value, Value | undefined>();
  fn.graph.inputs.forEach((formal, i) => {
    bound.set(formal, call.inputs[i]);
  });
  const given = new Map<string, Attribute>();
  for (const a of fn.attributeDefaults) given.set(a.name, a);
  for (const a of call.attributes.values()) if (!isAttributeRef(a)) given.set(a.name, a);
  const prefix = `${call.name || fn.name}/`;
  for (const node of fn.graph.nodes()) {
    const attributes: Attribute[] = [];
    for (const a of node.attributes.values()) {
      if (!isAttributeRef(a)) {
        attributes.push(a);
        continue;
      }
      // a reference the call does not set and the function gives no default: the attribute is absent
      const value = given.get(a.refAttrName);
      if (value) attributes.push({ ...value, name: a.name } as Attribute);
    }
    const copy = new Node({
      opType: node.opType,
      domain: node.domain,
      overload: node.overload,
      name: names.name(`${prefix}${node.name || node.opType}`),
      inputs: node.inputs.map((input) => {
        if (!input) return undefined;
        if (!bound.has(input))
          throw errors.irMisuse(
            `inlineFunctions: "${input.name}" is read in ${fn.key} before it is defined`,
          );
        return bound.get(input);
      }),
      outputs: node.outputs.map(
        (o) => new Value(o.name ? names.name(`${prefix}${o.name}`) : "", o.type),
      ),
      attributes,
    });
    node.outputs.forEach((o, i) => {
      bound.set(o, copy.outputs[i]);
    });
    graph.insertBefore(call, copy);
  }
  fn.graph.outputs.forEach((formal, i) => {
    const out = call.outputs[i];
    const computed = bound.get(formal);
    if (out?.name && computed) replaceValue(out, computed, graph, names, { takeName: true });
  });
  graph.remove(call, { force: true });
}

function isCalled(model: Model, key: string): boolean {
  for (const node of model.allNodes())
    if (functionKey(node.domain, node.opType, node.overload) === key) return true;
  return false;
}
