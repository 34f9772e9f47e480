export { OP_SCHEMAS } from "./generated/op-schemas.js";
export {
  canonicalDomain,
  formatSignature,
  isKnownDomain,
  newestDocumentedOpset,
  onnxElementTypeName,
  onnxTypeString,
  opsOfDomain,
  schemaFor,
  schemaHistory,
} from "./registry.js";
export type {
  AttributeDefault,
  AttributeSchema,
  FormalParameter,
  OpSchema,
  ParameterOption,
  TypeConstraint,
} from "./types.js";
