import { compareText } from "./graph-stats.js";
import type { StoredTensor } from "./stored-tensors.js";
import type {
  DtypeTotals,
  ExternalDataFileSummary,
  InitializerSummary,
  ParameterSummary,
  ParameterTotals,
} from "./summary.js";

export function parameterSummary(stored: readonly StoredTensor[]): ParameterSummary {
  return {
    total: totals(stored),
    initializers: totals(stored.filter((t) => t.source === "initializer")),
    constants: totals(stored.filter((t) => t.source === "constant")),
  };
}

function totals(stored: readonly StoredTensor[]): ParameterTotals {
  const byDtype = new Map<string, DtypeTotals>();
  for (const t of stored) {
    let entry = byDtype.get(t.dtype);
    if (!entry) {
      entry = { tensors: 0, count: 0, bytes: 0 };
      byDtype.set(t.dtype, entry);
    }
    entry.tensors++;
    entry.count += t.count;
    entry.bytes += t.bytes;
  }
  const ordered = [...byDtype].sort(([a, x], [b, y]) => y.bytes - x.bytes || compareText(a, b));
  return {
    tensors: stored.length,
    count: stored.reduce((sum, t) => sum + t.count, 0),
    bytes: stored.reduce((sum, t) => sum + t.bytes, 0),
    byDtype: Object.fromEntries(ordered),
  };
}

/** An external-data file with the absolute path it was resolved to (kept out of the summary). */
export interface ExternalDataUse extends Omit<ExternalDataFileSummary, "fileBytes"> {
  path: string;
  /** A tensor stored in the file, to name in errors. */
  firstTensor: string;
}

/** External-data files by location, in order of first use, from the references alone. */
export function externalDataUses(stored: readonly StoredTensor[]): ExternalDataUse[] {
  const files = new Map<string, ExternalDataUse>();
  for (const t of stored) {
    for (const part of t.parts) {
      const ref = part.external;
      if (!ref) continue;
      let file = files.get(ref.location);
      if (!file) {
        file = {
          location: ref.location,
          path: ref.path,
          firstTensor: t.name,
          tensors: 0,
          bytes: 0,
        };
        files.set(ref.location, file);
      }
      file.tensors++;
      file.bytes += ref.length;
    }
  }
  return [...files.values()];
}

export function largestInitializers(
  stored: readonly StoredTensor[],
  top: number,
): InitializerSummary[] {
  return stored
    .filter((t) => t.source === "initializer")
    .sort((a, b) => b.bytes - a.bytes || compareText(a.name, b.name))
    .slice(0, top)
    .map((t) => {
      const location = t.parts.find((p) => p.external)?.external?.location ?? null;
      return {
        name: t.name,
        dtype: t.dtype,
        dims: t.dims,
        bytes: t.bytes,
        storage: location === null ? "inline" : "external",
        location,
      };
    });
}
