import { AttributeType } from "../../ir/attribute.js";
import type { Node } from "../../ir/node.js";
import { Tensor } from "../../ir/tensor.js";
import type { Adapter } from "../adapter.js";
import { plainAttribute, rankOf } from "../edit.js";

/*
 * Opset 7 replaced the `broadcast`/`axis` attributes of the binary ops (and Gemm's `broadcast`)
 * with numpy-style broadcasting, which aligns B with A's trailing axes. A legacy B aligned at
 * `axis` gets trailing 1-sized axes so that numpy puts it in the same place.
 */

function intAttribute(node: Node, name: string): number | undefined {
  const a = plainAttribute(node, name);
  return a?.type === AttributeType.INT ? Number(a.value) : undefined;
}

/** How many trailing axes B needs, or why that cannot be known. */
function trailingAxes(node: Node): { count: number } | { problem: string } {
  if (intAttribute(node, "broadcast") !== 1) return { count: 0 };
  const axis = intAttribute(node, "axis");
  if (axis === undefined) return { count: 0 }; // suffix matching: numpy's own rule
  const rankA = rankOf(node.inputs[0]);
  const rankB = rankOf(node.inputs[1]);
  if (rankA === undefined || rankB === undefined)
    return {
      problem: `it broadcasts B at axis ${axis}, and the rank of ${rankA === undefined ? "A" : "B"} is not known, so numpy-style broadcasting cannot be made to align it`,
    };
  const start = axis < 0 ? axis + rankA : axis;
  return { count: Math.max(0, rankA - start - rankB) };
}

export const legacyBroadcast: Adapter = {
  name: "broadcast-axis-to-numpy",
  check(node) {
    const plan = trailingAxes(node);
    return "problem" in plan ? plan.problem : undefined;
  },
  adapt(node, { editor }) {
    if (!node.attributes.has("broadcast") && !node.attributes.has("axis")) return false;
    const plan = trailingAxes(node);
    node.attributes.delete("broadcast");
    node.attributes.delete("axis");
    if (!("count" in plan) || plan.count === 0) return true;
    const b = node.inputs[1];
    const rankB = rankOf(b) ?? 0;
    const constant = b?.constValue;
    if (constant instanceof Tensor && b?.uses().length === 1) {
      // A constant read only here is reshaped in place of an Unsqueeze.
      const dims = [...constant.dims, ...Array<number>(plan.count).fill(1)];
      const tensor = Tensor.fromBytes(constant.dataType, dims, constant.bytes());
      node.setInput(1, editor.constant(node, "broadcast_b", tensor));
      return true;
    }
    const axes = Array.from({ length: plan.count }, (_, i) => rankB + i);
    const unsqueezed = editor.insertBefore(node, {
      opType: "Unsqueeze",
      inputs: [b],
      attributes: [{ name: "axes", type: AttributeType.INTS, value: axes }],
    });
    node.setInput(1, unsqueezed.output);
    return true;
  },
};

/** Gemm-7 broadcasts C unidirectionally whether or not `broadcast` was set. */
export const gemmBroadcast: Adapter = {
  name: "gemm-remove-broadcast",
  adapt: (node) => node.attributes.delete("broadcast"),
};

/** BatchNormalization-7 and Dropout-7 dropped `is_test`: they are inference ops unless trained. */
export const removeIsTest: Adapter = {
  name: "remove-is-test",
  check(node) {
    return intAttribute(node, "is_test") === 0
      ? "is_test=0 asks for training behaviour, which opset 7 expresses differently"
      : undefined;
  },
  adapt: (node) => node.attributes.delete("is_test"),
};

/** GRU/LSTM/RNN-7 dropped `output_sequence`; without it the node reads the same. */
export const rnnOutputSequence: Adapter = {
  name: "rnn-without-output-sequence",
  check(node) {
    return node.attributes.has("output_sequence")
      ? "its output_sequence attribute was removed at opset 7 and Lathe has no adapter for it"
      : undefined;
  },
  adapt: () => false,
};

/**
 * The experimental Upsample-1 (height_scale, width_scale on NCHW; "bilinear") became
 * Upsample-7 (scales over every axis; "linear").
 */
export const upsampleScales7: Adapter = {
  name: "upsample-1-to-7",
  check(node) {
    const ok = ["height_scale", "width_scale"].every(
      (n) => plainAttribute(node, n)?.type === AttributeType.FLOAT,
    );
    return ok || node.attributes.has("scales")
      ? undefined
      : "it has no height_scale and width_scale";
  },
  adapt(node) {
    const h = plainAttribute(node, "height_scale");
    const w = plainAttribute(node, "width_scale");
    if (h?.type !== AttributeType.FLOAT || w?.type !== AttributeType.FLOAT) return false;
    node.attributes.delete("height_scale");
    node.attributes.delete("width_scale");
    node.setAttribute({
      name: "scales",
      type: AttributeType.FLOATS,
      value: [1, 1, h.value, w.value],
    });
    const mode = plainAttribute(node, "mode");
    if (mode?.type === AttributeType.STRING && mode.value === "bilinear")
      node.setAttribute({ name: "mode", type: AttributeType.STRING, value: "linear" });
    return true;
  },
};

/**
 * PRelu-6 applied a slope of C values per channel (axis 1); PRelu-7 broadcasts the slope
 * numpy-style onto X's trailing axes, so the slope gets trailing 1-sized axes.
 */
export const preluChannelSlope: Adapter = {
  name: "prelu-channel-slope",
  check(node) {
    if (rankOf(node.inputs[1]) !== 1) return undefined;
    return rankOf(node.inputs[0]) === undefined
      ? "its slope is per channel and the rank of X is not known, so it cannot be aligned with numpy-style broadcasting"
      : undefined;
  },
  adapt(node, { editor }) {
    const slope = node.inputs[1];
    const rankX = rankOf(node.inputs[0]);
    if (rankOf(slope) !== 1 || rankX === undefined || rankX <= 2) return false;
    const count = rankX - 2;
    const constant = slope?.constValue;
    if (constant instanceof Tensor) {
      if (constant.elementCount === 1) return false;
      const dims = [...constant.dims, ...Array<number>(count).fill(1)];
      const tensor = Tensor.fromBytes(constant.dataType, dims, constant.bytes());
      node.setInput(1, editor.constant(node, "slope_per_channel", tensor));
      return true;
    }
    const unsqueezed = editor.insertBefore(node, {
      opType: "Unsqueeze",
      inputs: [slope],
      attributes: [
        {
          name: "axes",
          type: AttributeType.INTS,
          value: Array.from({ length: count }, (_, i) => 1 + i),
        },
      ],
    });
    node.setInput(1, unsqueezed.output);
    return true;
  },
};
