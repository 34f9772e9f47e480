import { DataType, dataTypeInfo } from "../ir/dtype.js";
import type { ValueType } from "../ir/types.js";
import { OP_SCHEMAS } from "./generated/op-schemas.js";
import type { OpSchema } from "./types.js";

/** `""` and `"ai.onnx"` name the same (default) domain. */
export function canonicalDomain(domain: string): string {
  return domain === "ai.onnx" ? "" : domain;
}

/** domain → op → its versions, oldest first (the table is generated in that order). */
let index: Map<string, Map<string, OpSchema[]>> | undefined;

function schemaIndex(): Map<string, Map<string, OpSchema[]>> {
  if (index) return index;
  index = new Map();
  for (const schema of OP_SCHEMAS) {
    let ops = index.get(schema.domain);
    if (!ops) {
      ops = new Map();
      index.set(schema.domain, ops);
    }
    const versions = ops.get(schema.name);
    if (versions) versions.push(schema);
    else ops.set(schema.name, [schema]);
  }
  return index;
}

/**
 * The signature an `opType` node of `domain` has in a model importing `opsetVersion` of that
 * domain: the newest schema whose since-version is at most `opsetVersion`. Undefined when the
 * op does not exist at that version (not introduced yet, or deprecated by then) or the
 * domain/op is not in the table; `schemaHistory` says which.
 */
export function schemaFor(
  domain: string,
  opType: string,
  opsetVersion: number,
): OpSchema | undefined {
  const schema = latestAtOrBefore(schemaHistory(domain, opType), opsetVersion);
  return schema?.deprecated ? undefined : schema;
}

/** Every documented version of an op, oldest first (deprecations included); empty if unknown. */
export function schemaHistory(domain: string, opType: string): readonly OpSchema[] {
  return schemaIndex().get(canonicalDomain(domain))?.get(opType) ?? [];
}

/** Whether the table describes a domain (ai.onnx, ai.onnx.ml, ai.onnx.preview(.training), com.microsoft). */
export function isKnownDomain(domain: string): boolean {
  return schemaIndex().has(canonicalDomain(domain));
}

/** The op names of a domain, sorted. */
export function opsOfDomain(domain: string): string[] {
  return [...(schemaIndex().get(canonicalDomain(domain))?.keys() ?? [])].sort();
}

/** The highest since-version in the table for a domain: the newest opset it documents. */
export function newestDocumentedOpset(domain: string): number | undefined {
  const ops = schemaIndex().get(canonicalDomain(domain));
  if (!ops) return undefined;
  let newest = 0;
  for (const versions of ops.values()) newest = Math.max(newest, versions.at(-1)!.sinceVersion);
  return newest;
}

function latestAtOrBefore(
  versions: readonly OpSchema[],
  opsetVersion: number,
): OpSchema | undefined {
  let found: OpSchema | undefined;
  for (const schema of versions) {
    if (schema.sinceVersion > opsetVersion) break;
    found = schema;
  }
  return found;
}

/** A signature line for people: `Clip-13(input: T, min?: T, max?: T) -> (output: T)`. */
export function formatSignature(schema: OpSchema): string {
  const params = (list: OpSchema["inputs"]) =>
    list
      .map(
        (p) =>
          `${p.name}${p.option === "optional" ? "?" : p.option === "variadic" ? "..." : ""}: ${p.type}`,
      )
      .join(", ");
  const domain = schema.domain === "" ? "" : `${schema.domain}::`;
  return `${domain}${schema.name}-${schema.sinceVersion}(${params(schema.inputs)}) -> (${params(schema.outputs)})`;
}

const ONNX_TYPE_NAMES: Partial<Record<DataType, string>> = {
  [DataType.FLOAT]: "float",
  [DataType.DOUBLE]: "double",
};

/** ONNX's spelling of an element type in type strings: `float`, `double`, `int64`, `float16`. */
export function onnxElementTypeName(type: DataType): string {
  return ONNX_TYPE_NAMES[type] ?? dataTypeInfo(type).name;
}

/**
 * ONNX's type string for a value type, as type constraints list them (`tensor(float)`,
 * `seq(tensor(int64))`, `optional(tensor(float))`); undefined when the type is not fully known.
 */
export function onnxTypeString(type: ValueType | undefined): string | undefined {
  if (!type) return undefined;
  switch (type.kind) {
    case "tensor":
    case "sparse_tensor":
      if (type.elemType === DataType.UNDEFINED) return undefined;
      return `${type.kind}(${onnxElementTypeName(type.elemType)})`;
    case "sequence":
    case "optional": {
      const inner = onnxTypeString(type.elemType);
      return inner === undefined
        ? undefined
        : `${type.kind === "sequence" ? "seq" : "optional"}(${inner})`;
    }
    case "map":
      return undefined;
  }
}
