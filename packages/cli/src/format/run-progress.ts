/** What `lathe run` shows while the engine works: a live table on a terminal, plain lines elsewhere. */

import type { PassGraph, PassStatistics, PipelineEvent, StepStatus } from "@lathe/core";
import { formatTable } from "./table.js";

export interface ProgressView {
  readonly onEvent: (event: PipelineEvent) => void;
  /** Draws the final state and stops the clock. */
  close(): void;
}

export interface ProgressOptions {
  /** Redraw a table in place (a terminal) instead of writing one line per change. */
  readonly live: boolean;
  /** Milliseconds since some fixed point; injectable for tests. */
  readonly now?: () => number;
}

type Shown = "pending" | "running" | "done" | Exclude<StepStatus, "ran">;

interface Row {
  readonly id: string;
  readonly pass: string;
  state: Shown;
  reason?: string;
  startedAt?: number;
  durationMs?: number;
  progress?: { done: number; total: number; label?: string };
  statistics?: PassStatistics;
}

const MARK: Record<Shown, string> = {
  pending: "·",
  running: "▸",
  done: "✓",
  cached: "=",
  skipped: "-",
  failed: "✗",
  interrupted: "!",
};

export function createProgressView(
  graph: PassGraph,
  stream: NodeJS.WritableStream,
  options: ProgressOptions,
): ProgressView {
  const now = options.now ?? (() => performance.now());
  // The recipe's own words first, written once: the live table redraws only below them.
  const { name, description } = graph.recipe;
  if (name !== undefined || description !== undefined) {
    stream.write(`${[name, description].filter((t) => t !== undefined).join(": ")}\n`);
  }
  const rows = new Map<string, Row>(
    graph.steps.map((s) => [s.id, { id: s.id, pass: s.passId, state: "pending" }]),
  );
  return options.live ? liveView(rows, stream, now) : plainView(rows, stream, now);
}

/** One line per start, end, log and each tenth of a step's progress. */
function plainView(
  rows: Map<string, Row>,
  stream: NodeJS.WritableStream,
  now: () => number,
): ProgressView {
  const printedTenths = new Map<string, number>();
  const write = (line: string) => stream.write(`${line}\n`);
  return {
    onEvent(event) {
      const row = update(rows, event, now);
      switch (event.type) {
        case "step-start":
          write(`${event.step}: running ${row?.pass ?? ""}`.trimEnd());
          break;
        case "step-progress": {
          const tenth = event.total > 0 ? Math.floor((10 * event.done) / event.total) : 0;
          if (tenth === printedTenths.get(event.step)) break;
          printedTenths.set(event.step, tenth);
          write(`${event.step}: ${progressText(event)}`);
          break;
        }
        case "step-log":
          if (event.level !== "debug")
            write(`${event.step}: ${event.level === "warn" ? "warning: " : ""}${event.message}`);
          break;
        case "step-end":
          if (row)
            write(`${event.step}: ${stateText(row)}${timeText(row, now)}${statisticsText(row)}`);
          break;
        case "output":
          write(`${event.step}: wrote ${event.path}`);
          break;
        case "metric-end":
          write(
            `${event.step}: ${event.metric} ${event.error ? `failed: ${event.error}` : event.cached ? "cached" : `measured in ${durationText(event.durationMs)}`}`,
          );
          break;
        case "selected":
          write(`selected: ${event.steps.join(", ") || "none"} (${event.reason})`);
          break;
      }
    },
    close() {},
  };
}

/** The whole table, redrawn in place on each event and every 100 ms for the running clock. */
function liveView(
  rows: Map<string, Row>,
  stream: NodeJS.WritableStream,
  now: () => number,
): ProgressView {
  let drawnLines = 0;
  const erase = () => {
    // Cursor to the start of the table, then clear to the end of the screen.
    if (drawnLines > 0) stream.write(`\x1b[${drawnLines}F\x1b[J`);
    drawnLines = 0;
  };
  const draw = () => {
    erase();
    const text = formatTable(
      [
        { header: "" },
        { header: "" },
        { header: "" },
        { header: "" },
        { header: "" },
        { header: "" },
      ],
      [...rows.values()].map((row) => [
        MARK[row.state],
        row.id,
        row.pass,
        stateText(row),
        timeText(row, now).trim(),
        row.progress && row.state === "running"
          ? progressText(row.progress)
          : statisticsText(row).trim(),
      ]),
      { indent: 0 },
    );
    stream.write(`${text}\n`);
    drawnLines = text.split("\n").length;
  };
  const clock = setInterval(draw, 100);
  clock.unref();
  draw();
  let closed = false;
  return {
    onEvent(event) {
      if (closed) return;
      update(rows, event, now);
      if (event.type === "step-log" && event.level !== "debug") {
        erase();
        stream.write(
          `${event.step}: ${event.level === "warn" ? "warning: " : ""}${event.message}\n`,
        );
      }
      draw();
    },
    close() {
      if (closed) return;
      closed = true;
      clearInterval(clock);
      draw();
      // The final table stays: what is written after it must not be erased by a redraw.
      drawnLines = 0;
    },
  };
}

function update(rows: Map<string, Row>, event: PipelineEvent, now: () => number): Row | undefined {
  const row = "step" in event ? rows.get(event.step) : undefined;
  if (!row) return undefined;
  switch (event.type) {
    case "step-start":
      row.state = "running";
      row.startedAt = now();
      break;
    case "step-progress":
      row.progress = {
        done: event.done,
        total: event.total,
        ...(event.label === undefined ? {} : { label: event.label }),
      };
      break;
    case "step-end":
      row.state = event.status === "ran" ? "done" : event.status;
      row.durationMs = event.durationMs;
      if (event.reason) row.reason = event.reason;
      if (event.statistics) row.statistics = event.statistics;
      break;
  }
  return row;
}

function stateText(row: Row): string {
  return row.reason ? `${row.state} (${row.reason})` : row.state;
}

function progressText(progress: { done: number; total: number; label?: string }): string {
  const percent = progress.total > 0 ? Math.round((100 * progress.done) / progress.total) : 0;
  return `${progress.done}/${progress.total} (${percent}%)${progress.label ? ` ${progress.label}` : ""}`;
}

function timeText(row: Row, now: () => number): string {
  const ms =
    row.state === "running" && row.startedAt !== undefined ? now() - row.startedAt : row.durationMs;
  if (ms === undefined || row.state === "skipped" || row.state === "pending") return "";
  return ` ${durationText(ms)}`;
}

function durationText(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function statisticsText(row: Row): string {
  const entries = Object.entries(row.statistics ?? {});
  return entries.length > 0 ? ` (${entries.map(([k, v]) => `${k}: ${v}`).join(", ")})` : "";
}
