import { AttributeType } from "../../ir/attribute.js";
import { DataType } from "../../ir/dtype.js";
import type { Node } from "../../ir/node.js";
import { Tensor } from "../../ir/tensor.js";
import type { Adapter } from "../adapter.js";
import { constantValues, stringAttribute } from "../edit.js";

/*
 * Upsample (deprecated at 10) and Resize up to 13. Before opset 11 both map output pixels back
 * with `x / scale` (asymmetric); nearest mode truncates when enlarging and rounds up when
 * shrinking (ONNX Runtime's opset-10 kernel), which opset 11 spells `nearest_mode`.
 */

function mode(node: Node): string {
  return stringAttribute(node, "mode") ?? "nearest";
}

/** Upsample-10 is deprecated: the same node, with the same inputs, is a Resize-10. */
export const upsampleToResize: Adapter = {
  name: "upsample-to-resize",
  becomes: "Resize",
  adapt(node, context) {
    node.opType = "Resize";
    context.fromUpsample.add(node);
    return true;
  },
};

/** How opset 11 spells opset 10's nearest rounding, or why it cannot be spelled. */
function nearestRounding(node: Node, fromUpsample: boolean): { mode?: string; problem?: string } {
  if (fromUpsample) return { mode: "floor" };
  const scales = constantValues(node.inputs[1]);
  if (!scales)
    return {
      problem:
        "nearest mode rounds differently when an axis grows or shrinks, and the scales are not constant",
    };
  if (scales.every((s) => s >= 1)) return { mode: "floor" };
  if (scales.every((s) => s <= 1)) return { mode: "ceil" };
  return {
    problem: `nearest mode with scales [${scales.join(", ")}] grows some axes and shrinks others, which no opset-11 nearest_mode reproduces`,
  };
}

/**
 * Resize-11 reads (X, roi, scales): roi goes before scales, and the asymmetric transform and
 * opset 10's rounding become explicit attributes (their new defaults differ).
 */
export const resize10To11: Adapter = {
  name: "resize-10-to-11",
  check(node) {
    return mode(node) === "nearest" ? nearestRounding(node, false).problem : undefined;
  },
  adapt(node, context) {
    // Read from the Resize-10 inputs (X, scales), before roi is put between them.
    const rounding =
      mode(node) === "nearest"
        ? (nearestRounding(node, context.fromUpsample.has(node)).mode ?? "floor")
        : undefined;
    const [x, scales] = node.inputs;
    node.truncateInputs(0);
    node.appendInput(x);
    // roi only matters for tf_crop_and_resize; opset 13 lets it be omitted.
    node.appendInput(
      context.target >= 13 ? undefined : context.editor.constant(node, "roi", emptyRoi()),
    );
    node.appendInput(scales);
    node.setAttribute({
      name: "coordinate_transformation_mode",
      type: AttributeType.STRING,
      value: "asymmetric",
    });
    if (rounding)
      node.setAttribute({ name: "nearest_mode", type: AttributeType.STRING, value: rounding });
    return true;
  },
};

function emptyRoi() {
  // An empty roi is accepted where it is unused (every mode but tf_crop_and_resize).
  return Tensor.fromArray(DataType.FLOAT, [0], []);
}

/** Resize-13 dropped the `tf_half_pixel_for_nn` transform; everything else reads the same. */
export const resize13: Adapter = {
  name: "resize-13",
  check(node) {
    const transform = stringAttribute(node, "coordinate_transformation_mode");
    return transform === "tf_half_pixel_for_nn"
      ? "coordinate_transformation_mode tf_half_pixel_for_nn was removed at opset 13 and no other mode computes the same coordinates"
      : undefined;
  },
  adapt: () => false,
};
