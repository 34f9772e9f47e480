/** Tables of metric values: `lathe run`'s results, `lathe bench`, `lathe compare`. */
import {
  type EvaluationReport,
  formatMetricValue,
  type MetricValues,
  WARNING_NOTE,
} from "@lathe/core";
import { type Cell, formatTable } from "./table.js";
import { formatBytes } from "./units.js";

/** The values a table shows per metric name; other metrics show their first few values. */
const HEADLINE: Record<string, readonly string[]> = {
  latency: ["p50", "cv", "tokensPerSecond"],
  memory: ["peak"],
  size: ["bytes"],
  fidelity: ["top1", "kl", "relL2", "psnr"],
};

const LABEL: Record<string, string> = {
  "latency.p50": "p50",
  "latency.cv": "±",
  "latency.tokensPerSecond": "tok/s",
  "memory.peak": "peak RSS",
  "size.bytes": "size",
  "fidelity.top1": "top1",
  "fidelity.kl": "kl",
  "fidelity.relL2": "relL2",
  "fidelity.psnr": "psnr",
};

/** A value as a person reads it: bytes in MB, times in ms, shares in %, the rest to 4 digits. */
export function formatValue(metric: string, key: string, value: number | undefined): string {
  if (value === undefined) return "–";
  if (!Number.isFinite(value)) return String(value);
  const last = key.slice(key.lastIndexOf(".") + 1);
  if (metric === "memory" || (metric === "size" && last.endsWith("ytes")) || last === "bytes") {
    return formatBytes(value);
  }
  if (metric === "latency") {
    if (last === "cv") return `${(100 * value).toFixed(1)}%`;
    if (last === "runs") return String(value);
    if (last === "throughput" || last === "tokensPerSecond") return `${formatMetricValue(value)}/s`;
    return `${value.toFixed(value < 10 ? 3 : 1)} ms`;
  }
  return formatMetricValue(value);
}

function columnsFor(values: readonly MetricValues[]): { metric: string; key: string }[] {
  const metrics = [...new Set(values.flatMap((v) => Object.keys(v)))];
  return metrics.flatMap((metric) => {
    const present = new Set(values.flatMap((v) => Object.keys(v[metric] ?? {})));
    const wanted = HEADLINE[metric] ?? [...present].filter((k) => !k.includes(".")).slice(0, 3);
    return wanted.filter((key) => present.has(key)).map((key) => ({ metric, key }));
  });
}

/** `lathe run`'s results: the reference, every candidate, its verdict, the selected marker. */
export function formatResults(evaluation: EvaluationReport): string {
  const selected = new Set(
    evaluation.selection.kind === "objective"
      ? [evaluation.selection.selected].filter((s): s is string => s !== undefined)
      : evaluation.selection.kind === "pareto"
        ? evaluation.selection.front
        : [],
  );
  const rows = [evaluation.reference, ...evaluation.candidates];
  const columns = columnsFor(rows.map((r) => r.values));
  const table = formatTable(
    [
      { header: "" },
      { header: "candidate" },
      ...columns.map((c) => ({
        header: LABEL[`${c.metric}.${c.key}`] ?? `${c.metric}.${c.key}`,
        align: "right" as const,
      })),
      { header: "verdict" },
    ],
    rows.map((row): Cell[] => {
      const candidate = evaluation.candidates.find((c) => c === row);
      const failed = candidate?.checks.filter((c) => !c.passed) ?? [];
      const judged = candidate
        ? candidate.accepted
          ? "accepted"
          : `rejected: ${failed.map((c) => c.reason).join("; ")}`
        : "reference";
      // A pass warned about this candidate (calibrated on generated inputs, …): the notes say what.
      const warned = row.notes.some((n) => n.startsWith(WARNING_NOTE));
      const verdict = warned ? `${judged} ⚠ see warning below` : judged;
      return [
        selected.has(row.step) ? "★" : "",
        row.step,
        ...columns.map((c) => formatValue(c.metric, c.key, row.values[c.metric]?.[c.key])),
        verdict,
      ];
    }),
  );
  const notes = rows.flatMap((r) => r.notes.map((n) => `  ${r.step}: ${n}`));
  const lines = [table, `selection: ${evaluation.selection.reason}`];
  // A constraint that could not be judged is the recipe's problem: point at it once.
  const unjudged = new Map<string, string>();
  for (const check of evaluation.candidates.flatMap((c) => c.checks)) {
    if (check.where !== undefined && !unjudged.has(check.where)) {
      unjudged.set(
        check.where,
        `${check.where}: "${check.constraint}" cannot be judged: ${check.reason}`,
      );
    }
  }
  if (unjudged.size > 0) lines.push(...unjudged.values());
  if (evaluation.selection.kind === "objective" && evaluation.selection.output) {
    lines.push(`selected model: ${evaluation.selection.output}/`);
    const gain = formatGain(evaluation, evaluation.selection.selected);
    if (gain) lines.push(gain);
  }
  if (notes.length > 0) lines.push("notes:", ...notes);
  return lines.join("\n");
}

/**
 * What the selected candidate gained over the reference, as ratios: `2.15× faster (latency
 * p50), 3.89× smaller (size), fidelity top-1 0.92, KL 1.1e-4`. Only the values both have.
 */
export function formatGain(
  evaluation: EvaluationReport,
  step: string | undefined,
): string | undefined {
  const chosen = evaluation.candidates.find((c) => c.step === step);
  if (!chosen) return undefined;
  const ours = chosen.values;
  const theirs = evaluation.reference.values;
  const parts: string[] = [];
  const ratio = (metric: string, key: string) => {
    const a = theirs[metric]?.[key];
    const b = ours[metric]?.[key];
    return a !== undefined && b !== undefined && a > 0 && b > 0 ? a / b : undefined;
  };
  const faster = ratio("latency", "p50");
  if (faster !== undefined) parts.push(`${faster.toFixed(2)}× faster (latency p50)`);
  const smaller = ratio("size", "bytes");
  if (smaller !== undefined) parts.push(`${smaller.toFixed(2)}× smaller (size on disk)`);
  const fidelity = ours.fidelity;
  if (fidelity) {
    const shown = Object.entries(fidelity)
      .filter(([key]) => /^(top1|kl|cosine|psnr)$/.test(key))
      .map(([key, value]) => `${key} ${formatValue("fidelity", key, value)}`);
    if (shown.length > 0) parts.push(`fidelity ${shown.join(", ")}`);
  }
  return parts.length > 0
    ? `gain: ${step} against ${evaluation.reference.step}: ${parts.join("; ")}`
    : undefined;
}

/** Every value of one model's metrics, one row each (`lathe bench`). */
export function formatValues(values: MetricValues): string {
  return formatTable(
    [{ header: "metric" }, { header: "key" }, { header: "value", align: "right" }],
    Object.entries(values).flatMap(([metric, entries]) =>
      Object.entries(entries).map(([key, value]): Cell[] => [
        metric,
        key,
        formatValue(metric, key, value),
      ]),
    ),
  );
}
