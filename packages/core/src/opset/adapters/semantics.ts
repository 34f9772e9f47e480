import { AttributeType } from "../../ir/attribute.js";
import { Node } from "../../ir/node.js";
import type { Value } from "../../ir/value.js";
import type { Adapter } from "../adapter.js";
import { plainAttribute, rankOf, stringAttribute } from "../edit.js";

/*
 * Adapters for ops whose meaning (not only their signature) changed: the node is rewritten so
 * that it computes what it computed before.
 */

/** Whether anything reads the value: a node (here or in a subgraph) or a graph output. */
function isRead(node: Node, value: Value | undefined): boolean {
  if (!value) return false;
  return value.uses().length > 0 || (node.graph?.outputs.includes(value) ?? false);
}

/**
 * Softmax, LogSoftmax and Hardmax before 13 flatten the input to 2-D at `axis` (default 1) and
 * normalize each row; from 13 they normalize along `axis` alone (default -1). On the last axis
 * the two agree; elsewhere the old behaviour is kept with Flatten → op → Reshape.
 */
export const softmaxAxis: Adapter = {
  name: "softmax-coerced-2d-to-axis",
  adapt(node, { editor }) {
    const axisAttr = plainAttribute(node, "axis");
    const axis = axisAttr?.type === AttributeType.INT ? Number(axisAttr.value) : 1;
    const x = node.inputs[0];
    const rank = rankOf(x);
    if (rank !== undefined && (axis < 0 ? axis + rank : axis) === rank - 1) {
      node.setAttribute({ name: "axis", type: AttributeType.INT, value: -1 });
      return true;
    }
    const shape = editor.insertBefore(node, { opType: "Shape", inputs: [x] });
    const flat = editor.insertBefore(node, {
      opType: "Flatten",
      inputs: [x],
      attributes: [{ name: "axis", type: AttributeType.INT, value: axis }],
    });
    node.setInput(0, flat.output);
    node.setAttribute({ name: "axis", type: AttributeType.INT, value: -1 });
    editor.appendAfter(node, node.output, { opType: "Reshape", extraInputs: [shape.output] });
    return true;
  },
};

/** BatchNormalization-9 removed `spatial`: only the default (1, per-channel statistics) remains. */
export const batchNormSpatial: Adapter = {
  name: "batchnorm-remove-spatial",
  check(node) {
    const spatial = plainAttribute(node, "spatial");
    return spatial?.type === AttributeType.INT && Number(spatial.value) !== 1
      ? "spatial=0 (statistics per activation, not per channel) has no form from opset 9 on"
      : undefined;
  },
  adapt: (node) => node.attributes.delete("spatial"),
};

/**
 * BatchNormalization-14 keeps only Y for inference; its other outputs now mean running
 * statistics of training mode. Unread extra outputs are dropped; read ones cannot be kept.
 */
export const batchNormOutputs: Adapter = {
  name: "batchnorm-inference-outputs",
  check(node) {
    const read = node.outputs.slice(1).filter((o) => isRead(node, o));
    return read.length > 0
      ? `its training outputs (${read.map((o) => `"${o.name}"`).join(", ")}) are read; opset 14 gives them another meaning`
      : undefined;
  },
  adapt(node, { editor }) {
    if (node.outputs.length <= 1) return false;
    const replacement = new Node({
      opType: node.opType,
      domain: node.domain,
      name: node.name,
      inputs: [...node.inputs],
      outputs: 1,
      attributes: [...node.attributes.values()],
    });
    editor.replaceNode(node, replacement);
    return true;
  },
};

/** Dropout-10's mask output is bool (it had the data's type): only an unread mask converts. */
export const dropoutMask: Adapter = {
  name: "dropout-bool-mask",
  check(node) {
    return isRead(node, node.outputs[1])
      ? "its mask output is read, and its element type changed to bool at opset 10"
      : undefined;
  },
  adapt(node) {
    const mask = node.outputs[1];
    if (!mask) return false;
    mask.type = undefined;
    return true;
  },
};

/** Scatter (deprecated at 11) is ScatterElements with the same inputs and `axis`. */
export const scatterToScatterElements: Adapter = {
  name: "scatter-to-scatter-elements",
  becomes: "ScatterElements",
  adapt(node) {
    node.opType = "ScatterElements";
    return true;
  },
};

/** RoiAlign-16's default coordinate mode became half_pixel; the old one is stated explicitly. */
export const roiAlignMode: Adapter = {
  name: "roialign-explicit-output-half-pixel",
  adapt(node) {
    if (node.attributes.has("coordinate_transformation_mode")) return false;
    node.setAttribute({
      name: "coordinate_transformation_mode",
      type: AttributeType.STRING,
      value: "output_half_pixel",
    });
    return true;
  },
};

/** GridSample-20 renamed its modes: bilinear → linear, bicubic → cubic. */
export const gridSampleModes: Adapter = {
  name: "gridsample-mode-names",
  adapt(node) {
    const renamed = { bilinear: "linear", bicubic: "cubic" }[stringAttribute(node, "mode") ?? ""];
    if (!renamed) return false;
    node.setAttribute({ name: "mode", type: AttributeType.STRING, value: renamed });
    return true;
  },
};

/**
 * GroupNormalization-21 takes scale and bias per channel, not per group: each group's value
 * is repeated C / num_groups times (Reshape [-1, 1] → Expand [1, C/G] → Reshape [-1]).
 */
export const groupNormPerChannel: Adapter = {
  name: "groupnorm-scale-bias-per-channel",
  check(node) {
    const groups = plainAttribute(node, "num_groups");
    return groups?.type === AttributeType.INT ? undefined : "it has no constant num_groups";
  },
  adapt(node, { editor }) {
    const groups = plainAttribute(node, "num_groups");
    if (groups?.type !== AttributeType.INT) return false;
    const x = node.inputs[0];
    const channels = editor.insertBefore(node, {
      opType: "Shape",
      inputs: [x],
      attributes: [
        { name: "start", type: AttributeType.INT, value: 1 },
        { name: "end", type: AttributeType.INT, value: 2 },
      ],
    });
    const perGroup = editor.insertBefore(node, {
      opType: "Div",
      inputs: [channels.output, editor.int64s(node, "num_groups", [groups.value])],
    });
    const expandShape = editor.insertBefore(node, {
      opType: "Concat",
      inputs: [editor.int64s(node, "one", [1]), perGroup.output],
      attributes: [{ name: "axis", type: AttributeType.INT, value: 0 }],
    });
    const column = editor.int64s(node, "column", [-1, 1]);
    const flat = editor.int64s(node, "flat", [-1]);
    for (const index of [1, 2]) {
      const column2d = editor.insertBefore(node, {
        opType: "Reshape",
        inputs: [node.inputs[index], column],
      });
      const repeated = editor.insertBefore(node, {
        opType: "Expand",
        inputs: [column2d.output, expandShape.output],
      });
      const perChannel = editor.insertBefore(node, {
        opType: "Reshape",
        inputs: [repeated.output, flat],
      });
      node.setInput(index, perChannel.output);
    }
    return true;
  },
};

/**
 * Scan-9 dropped the batch axis (and `sequence_lens`) of Scan-8. With a batch of one, squeezing
 * every input and unsqueezing every output computes the same; larger batches have no exact form.
 */
export const scanWithoutBatch: Adapter = {
  name: "scan-8-to-9-batch-of-one",
  check(node) {
    if (node.inputs[0]) return "it uses sequence_lens, which opset 9 removed";
    const unknown = node.inputs.slice(1).find((v) => {
      const dims = v?.type?.kind === "tensor" ? v.type.shape?.dims : undefined;
      return dims?.[0] !== 1;
    });
    return unknown
      ? `its input "${unknown.name}" does not have a declared batch dimension of 1; Scan-9 has no batch axis`
      : undefined;
  },
  adapt(node, { editor }) {
    const inputs = node.inputs.slice(1);
    node.truncateInputs(0);
    for (const input of inputs) {
      const squeezed = editor.insertBefore(node, {
        opType: "Squeeze",
        inputs: [input],
        attributes: [{ name: "axes", type: AttributeType.INTS, value: [0] }],
      });
      node.appendInput(squeezed.output);
    }
    for (const output of node.outputs) {
      editor.appendAfter(node, output, {
        opType: "Unsqueeze",
        attributes: [{ name: "axes", type: AttributeType.INTS, value: [0] }],
      });
      output.type = undefined;
    }
    const directions = plainAttribute(node, "directions");
    node.attributes.delete("directions");
    if (directions) node.setAttribute({ ...directions, name: "scan_input_directions" });
    return true;
  },
};
