import {
  type DataRecord,
  DataType,
  decodeModel,
  encodeModel,
  type Graph,
  type Model,
  type Node,
  relativeL2,
  type SessionFactory,
  Tensor,
} from "@lathe/core";
import type { Fp16Options } from "./fp16-options.js";

/** Ops whose float weight starts a layer: each runs with the elementwise ops after it. */
const WEIGHTED = new Set(["Conv", "ConvTranspose", "MatMul", "Gemm"]);

/** Records read when `mixed.samples` is not given. */
export const MIXED_SAMPLES = 16;
/** The error allowed when `mixed.maxError` is not given (relative L2 of the first output). */
export const MIXED_MAX_ERROR = 1e-3;

/** A layer: a weighted op (its `name`) and the ops up to the next one in its graph. */
export interface Layer {
  readonly name: string;
  readonly nodes: readonly Node[];
}

/** What the measurement found and chose. */
export interface MixedPlan {
  /** Nodes to keep float32. */
  readonly keep: ReadonlySet<Node>;
  readonly layers: number;
  /** Layers kept float32, costliest first, with the cost each measured converted alone. */
  readonly kept: readonly { layer: string; cost: number }[];
  /** Every layer's cost converted alone (relative L2), in graph order. */
  readonly costs: readonly { layer: string; cost: number }[];
  /** Relative L2 of `output` (the first float output) with every layer converted, and with the chosen layers kept. */
  readonly errorAllFp16: number;
  readonly error: number;
  readonly output: string;
  readonly records: number;
  /** Converted models measured. */
  readonly trials: number;
}

/** Converts a copy of a model with the given nodes (by position) kept float32. */
export type ConvertCopy = (model: Model, keep: ReadonlySet<Node>) => void;

/**
 * The layers of the model in graph order, the main graph's then each If/Loop/Scan body's (a
 * body after the node that holds it): a new layer starts at every Conv/ConvTranspose/MatMul/Gemm
 * that reads a constant weight, and holds the ops after it in the same graph up to the next such
 * op (bias adds, norms, activations, reshapes); a graph's ops before its first one form a layer
 * of their own. Constant nodes belong to no layer: their type follows their readers'.
 */
export function layersOf(model: Model): Layer[] {
  const layers: { name: string; nodes: Node[] }[] = [];
  const visit = (graph: Graph) => {
    let current: { name: string; nodes: Node[] } | undefined;
    for (const node of graph) {
      if (node.opType !== "Constant") {
        const starts = WEIGHTED.has(node.opType) && node.inputs.slice(1).some(isConstant);
        if (starts || !current) {
          current = { name: node.name || `${node.opType} ${layers.length}`, nodes: [] };
          layers.push(current);
        }
        current.nodes.push(node);
      }
      for (const body of node.subgraphs()) visit(body);
    }
  };
  visit(model.graph);
  return layers;
}

/** Every node of every graph, in the order `layersOf` walks them (bodies after their node). */
function allNodes(model: Model): Node[] {
  const nodes: Node[] = [];
  const visit = (graph: Graph) => {
    for (const node of graph) {
      nodes.push(node);
      for (const body of node.subgraphs()) visit(body);
    }
  };
  visit(model.graph);
  return nodes;
}

function isConstant(value: { constValue?: unknown; producer(): Node | undefined } | undefined) {
  if (!value) return false;
  return value.constValue instanceof Tensor || value.producer()?.opType === "Constant";
}

/**
 * Automatic mixed precision by measured sensitivity (what ONNX Runtime's
 * `auto_mixed_precision` does by bisection, here by cost): every layer is converted alone (the
 * rest float32) and its cost measured as the relative L2 of the model's first output against
 * float32's on `records`; then the costliest `k` layers stay float32, `k` the smallest a binary
 * search finds whose converted model is within `maxError` (every candidate is measured whole,
 * so the plan's error is measured, not estimated). Each trial converts a decoded copy, so the
 * model itself is not touched; nodes are matched to the copy's by position. A layer in a branch
 * the records never take costs nothing and converts.
 */
export async function planMixedPrecision(
  model: Model,
  records: readonly DataRecord[],
  maxError: number,
  convertCopy: ConvertCopy,
  sessions: SessionFactory,
  signal?: AbortSignal,
): Promise<MixedPlan> {
  // the first float output (a classifier's scores, not its argmax)
  const floatOutput = model.graph.outputs.find(
    (v) =>
      v.type?.kind === "tensor" &&
      (v.type.elemType === DataType.FLOAT || v.type.elemType === DataType.FLOAT16),
  );
  const output = (floatOutput ?? model.graph.outputs[0]!).name;
  /** The first output over every record, end to end. */
  const run = async (m: Model) => {
    const results = await sessions.run(m, records, { outputs: [output] });
    const parts = results.map((r) => r[output]!.toArray() as ArrayLike<number | bigint>);
    const all = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const part of parts) for (let i = 0; i < part.length; i++) all[at++] = Number(part[i]);
    return all;
  };
  const reference = await run(model);
  const bytes = encodeModel(model);
  const position = new Map(allNodes(model).map((n, i) => [n, i]));
  let trials = 0;
  /** The error of a converted copy that keeps `keep` float32. */
  const errorKeeping = async (keep: readonly Node[]) => {
    signal?.throwIfAborted();
    const copy = decodeModel(bytes);
    const nodes = allNodes(copy);
    convertCopy(copy, new Set(keep.map((n) => nodes[position.get(n)!]!)));
    trials++;
    return relativeL2(reference, await run(copy));
  };

  const layers = layersOf(model);
  const costs: { layer: string; cost: number; index: number }[] = [];
  for (const [index, layer] of layers.entries()) {
    const others = layers.filter((_, j) => j !== index).flatMap((l) => l.nodes);
    costs.push({ layer: layer.name, cost: await errorKeeping(others), index });
  }
  const ranked = [...costs].sort((a, b) => b.cost - a.cost);
  const keepTop = (k: number) => ranked.slice(0, k).flatMap((c) => layers[c.index]!.nodes);

  const errorAllFp16 = await errorKeeping([]);
  let chosen = 0;
  let error = errorAllFp16;
  if (errorAllFp16 > maxError) {
    // smallest k within maxError; keeping every layer converts nothing of the main graph
    let low = 1;
    let high = layers.length;
    error = 0;
    chosen = layers.length;
    while (low <= high) {
      const k = (low + high) >> 1;
      const e = await errorKeeping(keepTop(k));
      if (e <= maxError) {
        chosen = k;
        error = e;
        high = k - 1;
      } else low = k + 1;
    }
  }
  return {
    keep: new Set(keepTop(chosen)),
    layers: layers.length,
    kept: ranked.slice(0, chosen).map(({ layer, cost }) => ({ layer, cost })),
    costs: costs.map(({ layer, cost }) => ({ layer, cost })),
    errorAllFp16,
    error,
    output,
    records: records.length,
    trials,
  };
}

/** The `mixed` options with their defaults. */
export function mixedDefaults(options: Fp16Options["mixed"]): {
  calibration?: string;
  samples: number;
  maxError: number;
} {
  return {
    ...(options.calibration ? { calibration: options.calibration } : {}),
    samples: options.samples ?? MIXED_SAMPLES,
    maxError: options.maxError ?? MIXED_MAX_ERROR,
  };
}
