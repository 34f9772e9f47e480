/** A small fixed-width table for terminal output: padded columns, numbers right-aligned. */

import { formatInteger } from "./units.js";

export interface Column {
  /** Header text; a table whose headers are all empty prints no header row. */
  header: string;
  /** Default: right for columns whose cells are all numbers, left otherwise. */
  align?: "left" | "right";
}

/** A cell: text as is, or a number shown as an exact integer with thousands separators. */
export type Cell = string | number;

export interface TableOptions {
  /** Spaces before each line. Default 2. */
  indent?: number;
  /** Spaces between columns. Default 2. */
  gap?: number;
}

export function formatTable(
  columns: readonly Column[],
  rows: readonly (readonly Cell[])[],
  options: TableOptions = {},
): string {
  const indent = " ".repeat(options.indent ?? 2);
  const gap = " ".repeat(options.gap ?? 2);
  const aligns = columns.map(
    (column, i) => column.align ?? (isNumericColumn(rows, i) ? "right" : "left"),
  );
  const text = rows.map((row) => columns.map((_, i) => cellText(row[i])));
  const lines = columns.some((c) => c.header !== "")
    ? [columns.map((c) => c.header), ...text]
    : text;
  const widths = columns.map((_, i) => Math.max(0, ...lines.map((line) => line[i]!.length)));
  return lines
    .map((line) => {
      const padded = line.map((cell, i) =>
        aligns[i] === "right" ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!),
      );
      return (indent + padded.join(gap)).trimEnd();
    })
    .join("\n");
}

function cellText(cell: Cell | undefined): string {
  if (cell === undefined) return "";
  return typeof cell === "number" ? formatInteger(cell) : cell;
}

function isNumericColumn(rows: readonly (readonly Cell[])[], index: number): boolean {
  const cells = rows.map((row) => row[index]).filter((cell) => cell !== undefined && cell !== "");
  return cells.length > 0 && cells.every((cell) => typeof cell === "number");
}
