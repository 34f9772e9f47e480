import type { ProfileResult } from "@lathe/core";
import { formatTable } from "./table.js";

const percent = (share: number) => `${(share * 100).toFixed(1)}%`;
const ms = (us: number) => `${(us / 1000).toFixed(3)} ms`;

/** `lathe profile`: where the nodes ran, the top op types and nodes, and passes to try. */
export function formatProfile(result: ProfileResult, top: number): string {
  const { summary } = result;
  const shapes = Object.entries(result.shapes)
    .map(([name, dims]) => `${name}=${dims.join("x") || "scalar"}`)
    .join(" ");
  const lines = [
    `provider: ${result.provider} (${result.placement})`,
    ...result.notes.map((note) => `note: ${note}`),
    `inputs: ${shapes}`,
    `runs: ${summary.runs}, ${ms(summary.runUs / Math.max(summary.runs, 1))} per run, ${ms(summary.kernelUs / Math.max(summary.runs, 1))} in nodes`,
    "",
    "by op type:",
    formatTable(
      [
        { header: "op" },
        { header: "share", align: "right" },
        { header: "per run", align: "right" },
        { header: "nodes" },
        { header: "calls" },
      ],
      summary.ops
        .slice(0, top)
        .map((o) => [o.opType, percent(o.share), ms(o.totalUs / summary.runs), o.nodes, o.calls]),
    ),
    "",
    "by node:",
    formatTable(
      [
        { header: "node" },
        { header: "op" },
        { header: "share", align: "right" },
        { header: "median call", align: "right" },
        { header: "calls" },
      ],
      summary.nodes
        .slice(0, top)
        .map((n) => [n.node, n.opType, percent(n.share), ms(n.medianUs), n.calls]),
    ),
  ];
  if (result.suggestions.length > 0) {
    lines.push("", "suggestions:");
    for (const s of result.suggestions) {
      lines.push(`  ${s.pass ?? "no Lathe pass yet"}: ${s.reason}`);
      if (s.advice) lines.push(`    what would help: ${s.advice}`);
      if (s.snippet) lines.push(...s.snippet.split("\n").map((l) => `      ${l}`));
    }
  } else {
    lines.push("", "suggestions: none (no pattern with a large share)");
  }
  return lines.join("\n");
}
