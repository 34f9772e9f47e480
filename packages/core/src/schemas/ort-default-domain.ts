import { AttributeType } from "../ir/attribute.js";
import type { OpSchema } from "./types.js";

/**
 * Ops ONNX Runtime registers in the default ONNX domain although the standard does not have
 * them there at that version: its contrib `LayerNormalization` (opsets 1–16, before the standard
 * op of opset 17) and `SimplifiedLayerNormalization` (RMS norm, every opset). ONNX Runtime's own
 * graph optimizer writes both into models it saves (LayerNormFusion, SimplifiedLayerNormFusion),
 * so real models carry them. Transcribed from ONNX Runtime's
 * onnxruntime/core/graph/contrib_ops/contrib_defs.cc (`SetDomain(kOnnxDomain)`) and the CPU
 * kernels' version ranges (LayerNormalization 1–16). They are not in the generated table: onnx's
 * checker and other runtimes refuse them, so the checker reports them as warnings.
 */
const FLOATS = ["tensor(float16)", "tensor(float)", "tensor(double)", "tensor(bfloat16)"];

/**
 * Both schemas allow unchecked attributes; ORT's SimplifiedLayerNormFusion writes `stash_type`
 * on SimplifiedLayerNormalization too, so both list it.
 */
const normAttributes = [
  { name: "axis", type: AttributeType.INT, required: false, default: -1 },
  { name: "epsilon", type: AttributeType.FLOAT, required: false, default: 0.00001 },
  { name: "stash_type", type: AttributeType.INT, required: false, default: 1 },
] as const;

const LAYER_NORMALIZATION: OpSchema = {
  domain: "",
  name: "LayerNormalization",
  sinceVersion: 1,
  inputs: [
    { name: "X", type: "T", option: "single" },
    { name: "scale", type: "T", option: "single" },
    { name: "B", type: "T", option: "optional" },
  ],
  outputs: [
    { name: "Y", type: "T", option: "single" },
    { name: "mean", type: "U", option: "optional" },
    { name: "inv_std_var", type: "U", option: "optional" },
  ],
  minInputs: 2,
  maxInputs: 3,
  minOutputs: 1,
  maxOutputs: 3,
  attributes: [...normAttributes],
  typeConstraints: [
    { name: "T", types: FLOATS },
    { name: "U", types: ["tensor(float)", "tensor(bfloat16)"] },
  ],
};

const SIMPLIFIED_LAYER_NORMALIZATION: OpSchema = {
  domain: "",
  name: "SimplifiedLayerNormalization",
  sinceVersion: 1,
  inputs: [
    { name: "X", type: "T", option: "single" },
    { name: "scale", type: "T", option: "single" },
  ],
  outputs: [
    { name: "Y", type: "T", option: "single" },
    { name: "inv_std_var", type: "U", option: "optional" },
  ],
  minInputs: 2,
  maxInputs: 2,
  minOutputs: 1,
  maxOutputs: 2,
  attributes: [...normAttributes],
  typeConstraints: [
    { name: "T", types: FLOATS },
    { name: "U", types: ["tensor(float)"] },
  ],
};

/** Each op with the last default-domain opset ONNX Runtime registers it in (undefined: all). */
const ORT_DEFAULT_DOMAIN: readonly { schema: OpSchema; untilVersion?: number }[] = [
  { schema: LAYER_NORMALIZATION, untilVersion: 16 },
  { schema: SIMPLIFIED_LAYER_NORMALIZATION },
];

/**
 * The schema ONNX Runtime gives a default-domain `opType` at `opsetVersion` when the ONNX
 * standard has none there (see above); undefined otherwise.
 */
export function ortDefaultDomainSchema(
  domain: string,
  opType: string,
  opsetVersion: number,
): OpSchema | undefined {
  if (domain !== "" && domain !== "ai.onnx") return undefined;
  const entry = ORT_DEFAULT_DOMAIN.find((e) => e.schema.name === opType);
  if (!entry || opsetVersion > (entry.untilVersion ?? Number.POSITIVE_INFINITY)) return undefined;
  return entry.schema;
}
