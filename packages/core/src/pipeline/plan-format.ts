import { RECIPE_INPUT } from "../recipe/steps.js";
import type { Recipe } from "../recipe/types.js";
import type { PassGraph, PlannedStep } from "./plan.js";

/** How `lathe plan --format json` prints a graph: plain data, stable keys. */
export interface PlanJson {
  input: string;
  steps: {
    id: string;
    pass: string;
    plugin: string;
    input: string;
    options: Readonly<Record<string, unknown>>;
    candidate: boolean;
  }[];
  disabled: { id: string; pass: string; input: string }[];
  candidates: string[];
}

/** The recipe's input as one line: the model path or source, or the bundle's components. */
export function describeInput(recipe: Recipe): string {
  if (recipe.model !== undefined) return recipe.model;
  const components = Object.entries(recipe.bundle ?? {}).map(([name, from]) => `${name}=${from}`);
  return `bundle(${components.join(", ")})`;
}

export function planToJson(graph: PassGraph): PlanJson {
  return {
    input: describeInput(graph.recipe),
    steps: graph.steps.map((s) => ({
      id: s.id,
      pass: s.passId,
      plugin: `${s.plugin.meta.name}@${s.plugin.meta.version}`,
      input: s.input ?? RECIPE_INPUT,
      options: s.options,
      candidate: s.candidate,
    })),
    disabled: graph.disabled.map((d) => ({
      id: d.id,
      pass: d.passId,
      input: d.input ?? RECIPE_INPUT,
    })),
    candidates: [...graph.candidates],
  };
}

/**
 * The graph as a tree from the input (the reference), one step per line with its pass:
 *
 *     zoo:llama?size=tiny  (reference)
 *     ├─ rename  test/rename-nodes
 *     │  └─ scale  test/scale-output  → candidate
 *     └─ gelu  test/add-contrib-gelu  → candidate
 */
export function formatPlanText(graph: PassGraph): string {
  const byId = new Map(graph.steps.map((s) => [s.id, s]));
  const roots = graph.steps.filter((s) => s.input === undefined);
  const lines = [`${describeInput(graph.recipe)}  (reference)`];
  const walk = (steps: readonly PlannedStep[], indent: string) => {
    steps.forEach((step, i) => {
      const last = i === steps.length - 1;
      const options = Object.keys(step.options).length > 0 ? `  ${compact(step.options)}` : "";
      const tail = step.candidate ? "  → candidate" : "";
      lines.push(`${indent}${last ? "└─ " : "├─ "}${step.id}  ${step.passId}${options}${tail}`);
      walk(
        step.readers.map((id) => byId.get(id)!),
        `${indent}${last ? "   " : "│  "}`,
      );
    });
  };
  walk(roots, "");
  if (graph.steps.length === 0) lines.push("(no enabled steps)");
  for (const d of graph.disabled) {
    lines.push(`disabled: ${d.id}  ${d.passId}  (reads ${d.input ?? RECIPE_INPUT})`);
  }
  return lines.join("\n");
}

/** The graph as a Mermaid flowchart, for Markdown pages and PR descriptions. */
export function formatPlanMermaid(graph: PassGraph): string {
  const node = new Map(graph.steps.map((s, i) => [s.id, `s${i}`]));
  const lines = [
    "flowchart TD",
    `  input["${mermaidText(describeInput(graph.recipe))}<br/>(reference)"]`,
  ];
  for (const step of graph.steps) {
    const shape = step.candidate ? ["([", "])"] : ["[", "]"];
    lines.push(
      `  ${node.get(step.id)}${shape[0]}"${mermaidText(step.id)}<br/>${mermaidText(step.passId)}"${shape[1]}`,
    );
  }
  for (const step of graph.steps) {
    const from = step.input === undefined ? "input" : node.get(step.input)!;
    lines.push(`  ${from} --> ${node.get(step.id)}`);
  }
  return lines.join("\n");
}

function compact(options: Readonly<Record<string, unknown>>): string {
  return Object.entries(options)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
}

function mermaidText(text: string): string {
  return text.replaceAll('"', "#quot;");
}
