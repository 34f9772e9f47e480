import { convertOpset, type Model, opsetConversionProblems } from "@lathe/core";

/**
 * The default-domain opset each quantized form needs. A pass picks a form the model's opset has,
 * or leaves the node alone with the reason: raising the opset import alone would change the
 * meaning of ops that were revised since (Upsample, Slice, Resize, …), so a model is converted
 * (or re-exported) first, never relabelled.
 */
export const FORM_OPSET = {
  /** QuantizeLinear / DequantizeLinear, MatMulInteger, ConvInteger. */
  qdq: 10,
  /** DynamicQuantizeLinear. */
  dynamicQuantizeLinear: 11,
  /** The `axis` attribute of Q/DQ: per-channel scales. */
  perAxis: 13,
  /** Blocked Q/DQ (`block_size`), and int4/uint4 tensors. */
  blocked: 21,
} as const;

/** The model's default-domain opset (1 when it imports none, as ONNX reads it). */
export function defaultOpset(model: Model): number {
  return model.opset("") ?? 1;
}

/** Why `form` cannot be written into `model`, or undefined when its opset has it. */
export function formProblem(model: Model, form: keyof typeof FORM_OPSET): string | undefined {
  const opset = defaultOpset(model);
  const needed = FORM_OPSET[form];
  return opset >= needed
    ? undefined
    : `${FORM_LABEL[form]} needs opset ${needed}; the model imports opset ${opset} (convert it first)`;
}

const FORM_LABEL: Record<keyof typeof FORM_OPSET, string> = {
  qdq: "QuantizeLinear/DequantizeLinear",
  dynamicQuantizeLinear: "DynamicQuantizeLinear",
  perAxis: "per-channel QuantizeLinear/DequantizeLinear (axis)",
  blocked: "blocked QuantizeLinear/DequantizeLinear and int4 types",
};

/**
 * Raises the model's default-domain opset to `to` when that conversion is exact (core's
 * `convertOpset`); returns what happened in words, or undefined when it was not needed. When a
 * node cannot follow, the model is left as it is and the reason is returned with `converted:
 * false`, so the caller chooses the forms the old opset has.
 */
export function raiseOpsetIfExact(
  model: Model,
  to: number,
): { converted: boolean; note: string } | undefined {
  const from = defaultOpset(model);
  if (from >= to) return undefined;
  const problems = opsetConversionProblems(model, to);
  if (problems.length > 0) {
    const first = problems[0]!;
    return {
      converted: false,
      note: `opset ${from} kept: ${problems.length} node(s) cannot follow to ${to} exactly (${first.where}: ${first.reason})`,
    };
  }
  const done = convertOpset(model, to);
  const adapters = done.adapters.map((a) => `${a.adapter} ×${a.nodes}`).join(", ");
  return {
    converted: true,
    note: `converted from opset ${done.from} to ${done.to} first (exact${adapters ? `; ${adapters}` : ""})`,
  };
}
