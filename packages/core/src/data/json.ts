import { errors } from "../diagnostics.js";
import { DataType, dataTypeFromName, dataTypeInfo } from "../ir/dtype.js";
import { elementCount, Tensor } from "../ir/tensor.js";
import type { DataRecord } from "../plugin/types.js";

/**
 * Records from JSON: one record or an array of them; each maps an input name to a nested array
 * (its type from `dtypes`, else float32) or to `{ "dtype": "int64", "shape": [1, 4], "data": [...] }`
 * (data nested or flat; 64-bit integers may be strings to keep their precision).
 */
export function parseJsonRecords(
  text: string,
  file: string,
  dtypes: Readonly<Record<string, string>> = {},
): DataRecord[] {
  const fail = (detail: string) => errors.dataFileInvalid(file, "JSON data", detail);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw fail((error as Error).message);
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  return list.map((record, r) => {
    if (typeof record !== "object" || record === null || Array.isArray(record)) {
      throw fail(`record ${r} is not an object of input name → array`);
    }
    const out: Record<string, Tensor> = {};
    for (const [name, value] of Object.entries(record as Record<string, unknown>)) {
      out[name] = toTensor(name, value, dtypes[name], (d) => fail(`record ${r}, "${name}": ${d}`));
    }
    return out;
  });
}

function toTensor(
  name: string,
  value: unknown,
  dtype: string | undefined,
  fail: (detail: string) => Error,
): Tensor {
  let data: unknown = value;
  let shape: number[] | undefined;
  let typeName = dtype ?? "float32";
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const spec = value as { dtype?: unknown; shape?: unknown; data?: unknown };
    if (spec.data === undefined) throw fail('an object needs "data" (and "dtype", "shape")');
    data = spec.data;
    if (typeof spec.dtype === "string") typeName = spec.dtype;
    if (spec.shape !== undefined) {
      if (!Array.isArray(spec.shape) || spec.shape.some((d) => !Number.isInteger(d) || d < 0)) {
        throw fail('"shape" must be an array of sizes');
      }
      shape = spec.shape as number[];
    }
  }
  let type: DataType;
  try {
    type = dataTypeFromName(typeName);
  } catch {
    throw fail(`unknown dtype "${typeName}"`);
  }
  const nestedShape = shapeOf(data, fail);
  const flat = (Array.isArray(data) ? data.flat(Number.POSITIVE_INFINITY) : [data]) as unknown[];
  const dims = shape ?? nestedShape;
  if (elementCount(dims) !== flat.length) {
    throw fail(`${flat.length} values do not fill shape [${dims.join(", ")}]`);
  }
  const kind = dataTypeInfo(type).kind;
  if (kind === "string") return Tensor.fromStrings(dims, flat.map(String), { name });
  const big = type === DataType.INT64 || type === DataType.UINT64;
  const values = flat.map((v) => {
    if (typeof v === "boolean" && kind === "bool") return v ? 1 : 0;
    if (typeof v !== "number" && !(big && typeof v === "string" && /^-?\d+$/.test(v))) {
      throw fail(`${JSON.stringify(v)} is not a ${typeName} value`);
    }
    if (kind !== "float" && typeof v === "number" && !Number.isInteger(v)) {
      throw fail(`${v} is not an integer (dtype ${typeName})`);
    }
    return v;
  });
  return big
    ? Tensor.fromArray(
        type,
        dims,
        values.map((v) => BigInt(v as number | string)),
        { name },
      )
    : Tensor.fromArray(type, dims, values as number[], { name });
}

/** The shape of a nested array; ragged nesting is an error. */
function shapeOf(data: unknown, fail: (detail: string) => Error): number[] {
  if (!Array.isArray(data)) return [];
  const inner = data.map((d) => shapeOf(d, fail));
  const first = inner[0] ?? [];
  if (inner.some((s) => s.join() !== first.join())) throw fail("the nested arrays are ragged");
  return [data.length, ...first];
}
