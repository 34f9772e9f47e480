import { AttributeType, type Int64, isAttributeRef } from "../../ir/attribute.js";
import { DataType } from "../../ir/dtype.js";
import type { Node } from "../../ir/node.js";
import { Tensor } from "../../ir/tensor.js";
import type { Value } from "../../ir/value.js";
import type { Adapter, AdapterContext } from "../adapter.js";
import { elementTypeOf, plainAttribute, rawInts } from "../edit.js";

/*
 * Adapters for attributes that became inputs: the attribute's value becomes a constant input at
 * the position the new version defines, and the attribute is removed.
 */

/** Inside a function body an attribute may name the caller's attribute: no constant exists. */
export function referencedAttributes(node: Node, names: readonly string[]): string | undefined {
  const refs = names.filter((n) => {
    const a = node.attributes.get(n);
    return a !== undefined && isAttributeRef(a);
  });
  return refs.length === 0
    ? undefined
    : `attribute ${refs.map((r) => `"${r}"`).join(", ")} refers to the enclosing function's attribute, so it has no constant value to become an input`;
}

/** Puts `value` at input `index`, leaving any skipped optional inputs empty. */
function setInputAt(node: Node, index: number, value: Value | undefined): void {
  while (node.inputs.length < index) node.appendInput(undefined);
  node.setInput(index, value);
}

/** Ints attribute → 1-D int64 input at `index` (absent attribute: input left empty). */
function intsToInput(node: Node, context: AdapterContext, name: string, index: number): boolean {
  const values = rawInts(node, name);
  if (values === undefined) return false;
  node.attributes.delete(name);
  setInputAt(node, index, context.editor.int64s(node, name, values));
  return true;
}

/** `axes` attribute → input 1 (Squeeze/Unsqueeze/ReduceSum at 13, the other Reduce ops at 18). */
export const axesToInput: Adapter = {
  name: "axes-attribute-to-input",
  check: (node) => referencedAttributes(node, ["axes"]),
  adapt: (node, context) => intsToInput(node, context, "axes", 1),
};

/** Slice-10: `starts`, `ends`, `axes` became inputs 1, 2, 3 (INT64_MAX ends stay exact). */
export const sliceToInputs: Adapter = {
  name: "slice-attributes-to-inputs",
  check: (node) => referencedAttributes(node, ["starts", "ends", "axes"]),
  adapt(node, context) {
    intsToInput(node, context, "starts", 1);
    intsToInput(node, context, "ends", 2);
    intsToInput(node, context, "axes", 3);
    return true;
  },
};

/** TopK-10: `k` became input 1, a 1-element int64 tensor. */
export const topKToInput: Adapter = {
  name: "topk-k-to-input",
  check: (node) => referencedAttributes(node, ["k"]),
  adapt(node, context) {
    const k = plainAttribute(node, "k");
    if (k?.type !== AttributeType.INT) return false;
    node.attributes.delete("k");
    setInputAt(node, 1, context.editor.int64s(node, "k", [k.value]));
    return true;
  },
};

/** Split-13: the `split` sizes became input 1. */
export const splitToInput: Adapter = {
  name: "split-sizes-to-input",
  check: (node) => referencedAttributes(node, ["split"]),
  adapt: (node, context) => intsToInput(node, context, "split", 1),
};

/** Split-18: without sizes, the number of outputs must be stated (`num_outputs`). */
export const splitNumOutputs: Adapter = {
  name: "split-num-outputs",
  adapt(node) {
    if (node.inputs[1] || node.attributes.has("num_outputs")) return false;
    node.setAttribute({ name: "num_outputs", type: AttributeType.INT, value: node.outputs.length });
    return true;
  },
};

/** Upsample-9: `scales` became input 1 (float). */
export const upsampleScalesToInput: Adapter = {
  name: "upsample-scales-to-input",
  check: (node) => referencedAttributes(node, ["scales"]),
  adapt(node, context) {
    const scales = plainAttribute(node, "scales");
    if (scales?.type !== AttributeType.FLOATS) return false;
    node.attributes.delete("scales");
    const tensor = Tensor.fromArray(DataType.FLOAT, [scales.value.length], scales.value);
    setInputAt(node, 1, context.editor.constant(node, "scales", tensor));
    return true;
  },
};

/** Dropout-12: `ratio` (default 0.5) became input 1, a float scalar. */
export const dropoutRatioToInput: Adapter = {
  name: "dropout-ratio-to-input",
  check: (node) => referencedAttributes(node, ["ratio"]),
  adapt(node, context) {
    const ratio = plainAttribute(node, "ratio");
    node.attributes.delete("ratio");
    const value = ratio?.type === AttributeType.FLOAT ? ratio.value : 0.5;
    const tensor = Tensor.fromArray(DataType.FLOAT, [], [value]);
    setInputAt(node, 1, context.editor.constant(node, "ratio", tensor));
    return true;
  },
};

/** DFT-20: `axis` (default 1) became input 2, an int64 scalar whose own default is -2. */
export const dftAxisToInput: Adapter = {
  name: "dft-axis-to-input",
  check: (node) => referencedAttributes(node, ["axis"]),
  adapt(node, context) {
    const axis = plainAttribute(node, "axis");
    node.attributes.delete("axis");
    const value: Int64 = axis?.type === AttributeType.INT ? axis.value : 1;
    setInputAt(node, 2, context.editor.int64s(node, "axis", [value], []));
    return true;
  },
};

/**
 * The element type a constant input must have to match the node's data input (Clip's bounds,
 * Pad's fill value): from the input's or output's declared type.
 */
function dataType(node: Node): DataType | undefined {
  return elementTypeOf(node.inputs[0]) ?? elementTypeOf(node.outputs[0]);
}

function typeProblem(node: Node, what: string): string | undefined {
  return dataType(node) === undefined
    ? `the element type of its input is not declared, and ${what} must be a constant of that type`
    : undefined;
}

/** A constant of the data input's element type (checked to be known before converting). */
function typedScalar(node: Node, context: AdapterContext, stem: string, value: number): Value {
  const type = dataType(node) ?? DataType.FLOAT;
  const element = type === DataType.INT64 || type === DataType.UINT64 ? BigInt(value) : value;
  return context.editor.constant(node, stem, Tensor.fromArray(type, [], [element] as never));
}

/** Clip-11: `min` and `max` became optional inputs 1 and 2 of the data's type. */
export const clipToInputs: Adapter = {
  name: "clip-min-max-to-inputs",
  check(node) {
    const refs = referencedAttributes(node, ["min", "max"]);
    if (refs) return refs;
    const bounded = node.attributes.has("min") || node.attributes.has("max");
    return bounded ? typeProblem(node, "a bound") : undefined;
  },
  adapt(node, context) {
    const bound = (name: string) => {
      const a = plainAttribute(node, name);
      node.attributes.delete(name);
      return a?.type === AttributeType.FLOAT
        ? typedScalar(node, context, name, a.value)
        : undefined;
    };
    const min = bound("min");
    const max = bound("max");
    if (min) setInputAt(node, 1, min);
    if (max) setInputAt(node, 2, max);
    return min !== undefined || max !== undefined;
  },
};

/** Pad-11: `pads` became input 1 (int64) and `value` the optional input 2 of the data's type. */
export const padToInputs: Adapter = {
  name: "pad-attributes-to-inputs",
  check(node) {
    const refs = referencedAttributes(node, ["pads", "value"]);
    if (refs) return refs;
    const value = plainAttribute(node, "value");
    const fills = value?.type === AttributeType.FLOAT && value.value !== 0;
    return fills ? typeProblem(node, "the fill value") : undefined;
  },
  adapt(node, context) {
    intsToInput(node, context, "pads", 1);
    const value = plainAttribute(node, "value");
    node.attributes.delete("value");
    // Zero is the input's default too: no constant is needed for it.
    if (value?.type === AttributeType.FLOAT && value.value !== 0)
      setInputAt(node, 2, typedScalar(node, context, "value", value.value));
    return true;
  },
};
