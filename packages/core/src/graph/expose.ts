import { type Attribute, AttributeType, attr } from "../ir/attribute.js";
import { DataType } from "../ir/dtype.js";
import type { Graph } from "../ir/graph.js";
import type { Model } from "../ir/model.js";
import { Node } from "../ir/node.js";
import { Tensor } from "../ir/tensor.js";
import { tensorType } from "../ir/types.js";
import { Value } from "../ir/value.js";
import { NameScope } from "./naming.js";
import { subgraphsOf } from "./traverse.js";

/** Values made readable as main-graph outputs (see `exposeValues`), until `restore`. */
export interface ExposedValues {
  /** Per value asked for: the main-graph output that carries it, or undefined (see `refused`). */
  readonly outputs: readonly (string | undefined)[];
  /** Per value that could not be exposed (by index): why. */
  readonly refused: ReadonlyMap<number, string>;
  /** Undoes every edit: the model is as it was before the call. */
  restore(): void;
}

export interface ExposeOptions {
  /** Element types of values whose own `type` says none (a placeholder needs one). */
  readonly types?: ReadonlyMap<Value, DataType>;
  /**
   * Expose values inside Loop and Scan bodies too, stacked over the iterations (the output gets
   * a leading iterations axis; Scan's along axis 0). Every iteration must give the value the
   * same shape, or ONNX Runtime fails the run: fit for values of a fixed shape (a reduction to a
   * scalar, say), not for a value that grows per iteration. Default false: refused.
   */
  readonly perIteration?: boolean;
}

/**
 * Makes values computed anywhere in the main graph or inside If branches (at any depth) readable
 * as main-graph outputs, for runs that observe them (calibration, debugging): ONNX Runtime only
 * returns graph outputs, and a branch's values are not outputs of anything.
 *
 * A branch value leaves its branch as an added branch output (through an Identity, so a value
 * the branch already returns is not mixed up with what the If returns there), and the If gets an
 * added output that carries it. ONNX requires every branch to return as many outputs, of the same
 * element types (the shapes may differ), so each other branch returns a placeholder: an EMPTY
 * tensor (dims [0]) of the value's element type. A run in which the value's branch was not taken
 * therefore returns an empty tensor for it: readers must count a tensor with no elements as
 * "not observed in this run" (an empty real value carries no observation either). Nested Ifs
 * lift the value one If at a time.
 *
 * Values inside Loop and Scan bodies (one value per iteration) are refused with the reason unless
 * `perIteration` is set: then a body value leaves as an added scan output, stacked over the
 * iterations (a loop that ran no iteration returns an empty tensor: again no observation). An If
 * branch inside such a body is refused (its placeholder would not stack with the real value).
 * Values of function bodies, of unknown element type or strings are refused. The model must not
 * be edited otherwise until `restore`.
 */
export function exposeValues(
  model: Model,
  values: readonly Value[],
  options: ExposeOptions = {},
): ExposedValues {
  const main = model.graph;
  const owners = inputOwners(main);
  const names = new NameScope(model);
  const undo: (() => void)[] = [];
  const mainOutputs = main.outputs.length;
  const lifted = new Map<Value, Value | string>();

  const elementType = (v: Value): DataType | undefined =>
    v.type?.kind === "tensor" ? v.type.elemType : options.types?.get(v);

  /**
   * `v` itself in the main graph, or the If/Loop/Scan output that carries it there, or why not.
   * `mayBeEmpty`: `v` was carried out of an If branch, so it is an empty placeholder in some runs,
   * which a Loop cannot stack (its iterations must agree on the shape).
   */
  const lift = (v: Value, mayBeEmpty = false): Value | string => {
    const known = lifted.get(v);
    if (known) return known;
    const graph = v.producer()?.graph ?? owners.get(v);
    const owner = graph?.parent;
    const type = elementType(v);
    let result: Value | string;
    if (graph === main) result = v;
    else if (!graph || !owner)
      result = `"${v.name}" is not in the main graph or a subgraph of it (a function body?)`;
    else if (owner.domain !== "" || !["If", "Loop", "Scan"].includes(owner.opType))
      result = `"${v.name}" is inside a subgraph of ${owner.qualifiedOp}: not exposed`;
    else if (owner.opType !== "If" && !options.perIteration)
      result = `"${v.name}" is inside a ${owner.opType} body (one value per iteration): not exposed`;
    else if (owner.opType !== "If" && mayBeEmpty)
      result = `"${v.name}" is inside an If branch inside a ${owner.opType} body: not exposed (a branch not taken in some iterations cannot be stacked)`;
    else if (type === undefined) result = `"${v.name}" has no known element type`;
    else if (type === DataType.STRING) result = `"${v.name}" is a string tensor: not exposed`;
    else if (owner.opType === "If") result = lift(liftThroughIf(owner, graph, v, type), true);
    else result = lift(liftThroughBody(owner, graph, v, type), mayBeEmpty);
    lifted.set(v, result);
    return result;
  };

  /** A scan output of a Loop or Scan body: the Loop's added output stacks it per iteration. */
  const liftThroughBody = (owner: Node, body: Graph, v: Value, type: DataType): Value => {
    const name = names.name(`${v.name}_exposed`);
    const node = new Node({ opType: "Identity", name, inputs: [v], outputs: [name] });
    node.output.type = v.type?.kind === "tensor" ? v.type : tensorType(type);
    body.append(node);
    body.outputs.push(node.output);
    // Scan lists an axis and a direction per scan output, when it lists them at all
    const lists: Attribute[] = [];
    if (owner.opType === "Scan")
      for (const key of ["scan_output_axes", "scan_output_directions"]) {
        const list = owner.attribute(key);
        if (list?.type !== AttributeType.INTS) continue;
        lists.push(list);
        owner.setAttribute(attr.ints(key, [...list.value, 0]));
      }
    const count = owner.outputs.length;
    const out = owner.appendOutput(new Value(names.name(`${v.name}_exposed`), tensorType(type)));
    undo.push(() => {
      owner.truncateOutputs(count);
      for (const list of lists) owner.setAttribute(list);
      body.outputs.splice(body.outputs.indexOf(node.output), 1);
      body.remove(node, { force: true });
    });
    return out;
  };

  const liftThroughIf = (owner: Node, branch: Graph, v: Value, type: DataType): Value => {
    const added: [Graph, Node][] = [];
    for (const [, g] of subgraphsOf(owner)) {
      const name = names.name(`${v.name}_exposed`);
      const node =
        g === branch
          ? new Node({ opType: "Identity", name, inputs: [v], outputs: [name] })
          : new Node({
              opType: "Constant",
              name,
              outputs: [name],
              attributes: { value: Tensor.fromBytes(type, [0], new Uint8Array(0)) },
            });
      node.output.type =
        g === branch && v.type?.kind === "tensor"
          ? v.type
          : tensorType(type, g === branch ? undefined : [0]);
      g.append(node);
      g.outputs.push(node.output);
      added.push([g, node]);
    }
    const count = owner.outputs.length;
    const out = owner.appendOutput(new Value(names.name(`${v.name}_exposed`), tensorType(type)));
    undo.push(() => {
      owner.truncateOutputs(count);
      for (const [g, node] of added) {
        g.outputs.splice(g.outputs.indexOf(node.output), 1);
        g.remove(node, { force: true });
      }
    });
    return out;
  };

  const outputs: (string | undefined)[] = [];
  const refused = new Map<number, string>();
  values.forEach((v, i) => {
    const found = lift(v);
    if (typeof found === "string") {
      refused.set(i, found);
      outputs.push(undefined);
      return;
    }
    if (!main.outputs.includes(found)) main.outputs.push(found);
    outputs.push(found.name);
  });
  return {
    outputs,
    refused,
    restore() {
      main.outputs.length = mainOutputs;
      for (const step of undo.reverse()) step();
      undo.length = 0;
    },
  };
}

/** The graph whose inputs or initializers hold each value, over a graph and its subgraphs. */
function inputOwners(graph: Graph, into = new Map<Value, Graph>()): Map<Value, Graph> {
  for (const v of graph.inputs) into.set(v, graph);
  for (const v of graph.initializers.values()) into.set(v, graph);
  for (const node of graph) for (const [, g] of subgraphsOf(node)) inputOwners(g, into);
  return into;
}
