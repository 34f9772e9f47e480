import { errors } from "../diagnostics.js";
import { byteLength } from "../ir/dtype.js";
import { elementCount, Tensor } from "../ir/tensor.js";
import type { DataRecord } from "../plugin/types.js";

/** One record per index of the arrays' first axis (kept, with size 1): a batch as samples. */
export function splitRecord(record: DataRecord, where: string): DataRecord[] {
  const entries = Object.entries(record);
  const first = entries[0]?.[1];
  if (!first) return [];
  const count = first.dims[0];
  if (count === undefined || entries.some(([, t]) => t.dims[0] !== count)) {
    throw errors.dataOptionsInvalid(
      where,
      `split: the arrays' first axes differ (${entries.map(([n, t]) => `${n}: ${t.dims[0] ?? "scalar"}`).join(", ")})`,
      "give arrays with the same first (batch) axis, or set split: false",
    );
  }
  return Array.from({ length: count }, (_, i) => {
    const sample: Record<string, Tensor> = {};
    for (const [name, tensor] of entries) {
      const dims = [1, ...tensor.dims.slice(1)];
      const size = byteLength(tensor.dataType, elementCount(dims));
      const bytes = tensor.bytes().slice(i * size, (i + 1) * size);
      sample[name] = Tensor.fromBytes(tensor.dataType, dims, bytes, { name });
    }
    return sample;
  });
}
