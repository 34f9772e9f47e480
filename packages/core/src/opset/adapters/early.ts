import { AttributeType } from "../../ir/attribute.js";
import { DataType } from "../../ir/dtype.js";
import type { Adapter } from "../adapter.js";
import { stringAttribute } from "../edit.js";
import { referencedAttributes } from "./inputs.js";

/*
 * Opsets 1–6: the changes between ONNX's first releases that exporters of that time wrote.
 * Others of those versions (Pad's `paddings`, Split's input, LpPool's float p, GRU-3, Tile-6)
 * have no adapter and are refused by name.
 */

/** Opset 6 dropped `consumed_inputs`, an in-place hint that never changed what a node computes. */
export const removeConsumedInputs: Adapter = {
  name: "remove-consumed-inputs",
  adapt: (node) => node.attributes.delete("consumed_inputs"),
};

/** Concat-4 made `axis` required; before, it defaulted to 1. */
export const concatAxisRequired: Adapter = {
  name: "concat-explicit-axis",
  adapt(node) {
    if (node.attributes.has("axis")) return false;
    node.setAttribute({ name: "axis", type: AttributeType.INT, value: 1 });
    return true;
  },
};

/** Reshape-5: the `shape` attribute became input 1 (and `consumed_inputs` went). */
export const reshapeShapeToInput: Adapter = {
  name: "reshape-shape-to-input",
  check: (node) => referencedAttributes(node, ["shape"]),
  adapt(node, context) {
    node.attributes.delete("consumed_inputs");
    const shape = node.attributes.get("shape");
    if (!shape || !("value" in shape) || shape.type !== AttributeType.INTS) return false;
    node.attributes.delete("shape");
    node.setInput(1, context.editor.int64s(node, "shape", shape.value));
    return true;
  },
};

/** Cast-6: `to` is a data type number, not its name. */
export const castTypeNumber: Adapter = {
  name: "cast-to-type-number",
  check(node) {
    const name = stringAttribute(node, "to");
    return name !== undefined && !(name.toUpperCase() in DataType)
      ? `its target type "${name}" is not an ONNX data type`
      : undefined;
  },
  adapt(node) {
    const name = stringAttribute(node, "to");
    if (name === undefined) return false;
    const type = DataType[name.toUpperCase() as keyof typeof DataType];
    node.setAttribute({ name: "to", type: AttributeType.INT, value: type });
    return true;
  },
};
