import { DataType } from "../ir/dtype.js";
import { onnxElementTypeName } from "../schemas/registry.js";
import type { OpSchema } from "../schemas/types.js";
import type { InferContext, Inferred } from "./context.js";

const BY_NAME = new Map<string, DataType>();
for (const value of Object.values(DataType))
  if (typeof value === "number" && value !== DataType.UNDEFINED)
    BY_NAME.set(`tensor(${onnxElementTypeName(value)})`, value);

/**
 * Output element types from an op's schema alone, for ops without an inference function: an
 * output whose type is concrete (`tensor(int64)`) or whose constraint allows one type, or that
 * shares its constraint (`T`) with an input of known type, gets that element type; the shape
 * stays unknown.
 */
export function typesFromSchema(schema: OpSchema, ctx: InferContext): Inferred[] {
  const bound = new Map<string, DataType>();
  for (let i = 0; i < ctx.inputCount; i++) {
    const formal = schema.inputs[Math.min(i, schema.inputs.length - 1)];
    const type = ctx.input(i)?.elemType;
    if (formal && type !== undefined && !bound.has(formal.type)) bound.set(formal.type, type);
  }
  return ctx.node.outputs.map((_, i) => {
    const formal = schema.outputs[Math.min(i, schema.outputs.length - 1)];
    if (!formal) return undefined;
    const concrete = BY_NAME.get(formal.type) ?? bound.get(formal.type);
    if (concrete !== undefined) return { elemType: concrete };
    const allowed = schema.typeConstraints.find((c) => c.name === formal.type)?.types ?? [];
    const only = allowed.length === 1 ? BY_NAME.get(allowed[0]!) : undefined;
    return only === undefined ? undefined : { elemType: only };
  });
}
