import type { ModelSummary, ParameterTotals, ValueSummary } from "@lathe/core";
import { type Cell, formatTable } from "./table.js";
import { formatBytes, formatCount, formatInteger } from "./units.js";

/** The human view of `lathe inspect`: a few sections of aligned tables. */
export function formatSummary(summary: ModelSummary): string {
  const sections = [
    overview(summary),
    metadata(summary),
    values("inputs", summary.inputs),
    values("outputs", summary.outputs),
    ops(summary),
    parameters(summary),
    externalData(summary),
    largest(summary),
  ];
  return sections.filter((s) => s !== "").join("\n\n");
}

function overview(s: ModelSummary): string {
  const rows: [string, string][] = [];
  if (s.file) {
    rows.push(["model", s.file.path]);
    rows.push([
      "size",
      s.file.externalBytes > 0
        ? `${formatBytes(s.file.totalBytes)} (${formatBytes(s.file.modelBytes)} + ${formatBytes(s.file.externalBytes)} external data)`
        : formatBytes(s.file.modelBytes),
    ]);
  }
  rows.push(["ir version", String(s.irVersion)]);
  rows.push([
    "opsets",
    Object.entries(s.opsetImports)
      .map(([domain, version]) => `${domain} ${version}`)
      .join(", "),
  ]);
  const producer = `${s.producer.name} ${s.producer.version}`.trim();
  if (producer) rows.push(["producer", producer]);
  if (s.domain) rows.push(["domain", s.domain]);
  if (s.modelVersion !== 0) rows.push(["model version", String(s.modelVersion)]);
  if (s.graphName) rows.push(["graph", s.graphName]);
  if (s.docString) rows.push(["doc", s.docString]);
  return formatTable([{ header: "" }, { header: "" }], rows, { indent: 0 });
}

function metadata(s: ModelSummary): string {
  const rows = Object.entries(s.metadata).map(([key, value]) => [key, oneLine(value, 80)]);
  if (rows.length === 0) return "";
  return `metadata\n${formatTable([{ header: "" }, { header: "" }], rows)}`;
}

/** Exporters store whole JSON documents in metadata; a table shows their start. */
function oneLine(text: string, max: number): string {
  const line = text.split(/\r?\n/, 1)[0] ?? "";
  return line.length > max || line.length < text.length ? `${line.slice(0, max - 1)}…` : line;
}

function values(title: string, list: readonly ValueSummary[]): string {
  if (list.length === 0) return `${title}: none`;
  const rows = list.map((v) => [v.name, v.dtype ?? v.kind ?? "?", shapeText(v)]);
  return `${title}\n${formatTable([{ header: "name" }, { header: "type" }, { header: "shape" }], rows)}`;
}

function shapeText(v: ValueSummary): string {
  if (v.kind !== "tensor" && v.kind !== "sparse_tensor") return "";
  if (v.shape === null) return "unknown rank";
  return `[${v.shape.map((d) => (d === null ? "?" : String(d))).join(", ")}]`;
}

function ops(s: ModelSummary): string {
  const { total, mainGraph, subgraphs, functionBodies } = s.nodes;
  let head = `nodes: ${formatInteger(total)}`;
  if (subgraphs > 0)
    head += ` (${formatInteger(mainGraph)} in the main graph, ${formatInteger(subgraphs)} in subgraphs)`;
  if (s.functions > 0) {
    head += `; ${plural(s.functions, "function")} with ${plural(functionBodies, "node")}`;
  }
  const rows: Cell[][] = [];
  for (const [domain, counts] of Object.entries(s.ops)) {
    Object.entries(counts).forEach(([op, count], i) => {
      rows.push([i === 0 ? domain : "", op, count]);
    });
  }
  if (rows.length === 0) return head;
  return `${head}\n${formatTable([{ header: "domain" }, { header: "op" }, { header: "count" }], rows)}`;
}

function parameters(s: ModelSummary): string {
  const { total, initializers, constants } = s.parameters;
  if (total.tensors === 0) return "parameters: none";
  const head = `parameters: ${formatCount(total.count)} in ${plural(total.tensors, "tensor")}, ${formatBytes(total.bytes)}`;
  const rows = [...dtypeRows("initializers", initializers), ...dtypeRows("constants", constants)];
  const columns = [
    { header: "source" },
    { header: "dtype" },
    { header: "tensors" },
    { header: "params", align: "right" as const },
    { header: "size", align: "right" as const },
  ];
  return `${head}\n${formatTable(columns, rows)}`;
}

function dtypeRows(source: string, totals: ParameterTotals): Cell[][] {
  return Object.entries(totals.byDtype).map(([dtype, t], i) => [
    i === 0 ? source : "",
    dtype,
    t.tensors,
    formatCount(t.count),
    formatBytes(t.bytes),
  ]);
}

function externalData(s: ModelSummary): string {
  if (s.externalData.length === 0) return "";
  const rows = s.externalData.map((f) => [
    f.location,
    f.tensors,
    formatBytes(f.bytes),
    f.fileBytes === null ? "?" : formatBytes(f.fileBytes),
  ]);
  const columns = [
    { header: "file" },
    { header: "tensors" },
    { header: "data", align: "right" as const },
    { header: "on disk", align: "right" as const },
  ];
  return `external data\n${formatTable(columns, rows)}`;
}

function largest(s: ModelSummary): string {
  if (s.largestInitializers.length === 0) return "";
  const rows = s.largestInitializers.map((t) => [
    t.name,
    t.dtype,
    `[${t.dims.join(", ")}]`,
    formatBytes(t.bytes),
    t.location === null ? t.storage : `${t.storage} (${t.location})`,
  ]);
  const columns = [
    { header: "name" },
    { header: "dtype" },
    { header: "dims" },
    { header: "size", align: "right" as const },
    { header: "storage" },
  ];
  return `largest initializers\n${formatTable(columns, rows)}`;
}

function plural(n: number, noun: string): string {
  return `${formatInteger(n)} ${noun}${n === 1 ? "" : "s"}`;
}
