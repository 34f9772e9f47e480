import { type Builder, DataType, type Graph, Tensor, type Value } from "@lathe/core";
import type { TokenRegion } from "./find.js";

/** How tokens are merged: the same numbers as `mergeReference`/`unmergeReference`. */
export interface MergeSettings {
  /** Share of the tokens merged away: r = min(⌊ratio·N⌋, number of source tokens). */
  readonly ratio: number;
  /** One destination token every `stride` tokens (positions 0, stride, 2·stride, …). */
  readonly stride: number;
  /** Similarity of the tokens: the region's input, or the self-attention's keys. */
  readonly similarity: "hidden" | "keys";
}

const INT64_MAX = 9223372036854775807n;

/**
 * Wraps a region in ToMe's bipartite soft matching (Bolya & Hoffman 2023), computed in the graph
 * at every run, so any token count works:
 *
 * - tokens at positions ≡ 0 (mod stride) are destinations, the others sources;
 * - each source's most similar destination by cosine similarity (MatMul, ArgMax); the r sources
 *   with the highest similarity (TopK, descending, lower index first on ties) are averaged into
 *   their destinations (ScatterND add, divided by the counts);
 * - the region runs on [unmerged sources in TopK order ‖ destinations] (N − r tokens);
 * - its output is unmerged by one GatherND: every token takes the row it was merged into.
 */
export function wrapRegion(
  b: Builder,
  graph: Graph,
  region: TokenRegion,
  settings: MergeSettings,
): void {
  const opset = b.opsets.get("") ?? 16;
  const h = region.input;
  const int = (values: number[]) => b.int64s(values);
  const scalarInt = (value: number) => b.constant([value], [], DataType.INT64);

  // ---- the partition of positions (depends on N only)
  const shape = b.Shape(h);
  const n = b.Squeeze(b.Slice(shape, int([1]), int([2])), int([0])); // scalar N
  const stride = scalarInt(settings.stride);
  const nd = b.Div(b.Add(n, scalarInt(settings.stride - 1)), stride); // ⌈N / stride⌉
  const ns = b.Sub(n, nd);
  const dstIdx = b.Range(scalarInt(0), n, stride); // [Nd]
  const srcRank = b.Range(scalarInt(0), ns, scalarInt(1));
  // the i-th source: i + ⌊i / (stride − 1)⌋ + 1
  const srcIdx = b.Add(
    b.Add(srcRank, b.Div(srcRank, scalarInt(settings.stride - 1))),
    scalarInt(1),
  );

  // ---- matching
  const metric = similaritySource(b, region, settings);
  const norm = reduce(b, opset, "ReduceL2", metric);
  const unit = b.Div(metric, norm);
  const a = b.Gather(unit, srcIdx, { axis: 1 }); // [B, Ns, D]
  const d = b.Gather(unit, dstIdx, { axis: 1 }); // [B, Nd, D]
  const scores = b.MatMul(a, b.Transpose(d, { perm: [0, 2, 1] })); // [B, Ns, Nd]
  const best = reduce(b, opset, "ReduceMax", scores, false); // [B, Ns]
  const bestDst = b.ArgMax(scores, { axis: -1, keepdims: 0 }); // [B, Ns]
  const nFloat = b.Cast(n, { to: DataType.FLOAT });
  const wanted = b.Cast(b.Floor(b.Mul(nFloat, b.constant([settings.ratio], []))), {
    to: DataType.INT64,
  });
  const r = b.Unsqueeze(b.Min(wanted, ns), int([0])); // [1]
  const nsVec = b.Unsqueeze(ns, int([0]));
  const order = b.node("TopK", [best, nsVec], { axis: -1, largest: 1, sorted: 1 }, { outputs: 2 })
    .outputs[1] as Value; // [B, Ns], most similar first
  const mergedRank = b.Slice(order, int([0]), r, int([1])); // [B, r]
  const keptRank = b.Slice(order, r, b.constant([INT64_MAX], [1], DataType.INT64), int([1]));
  const dstOf = b.GatherElements(bestDst, mergedRank, { axis: 1 }); // [B, r]

  // ---- merge
  const xs = b.Gather(h, srcIdx, { axis: 1 }); // [B, Ns, C]
  const xd = b.Gather(h, dstIdx, { axis: 1 }); // [B, Nd, C]
  const last = int([-1]);
  const kept = b.GatherND(xs, b.Unsqueeze(keptRank, last), { batch_dims: 1 });
  const moved = b.GatherND(xs, b.Unsqueeze(mergedRank, last), { batch_dims: 1 }); // [B, r, C]
  const dstOfColumn = b.Unsqueeze(dstOf, last); // [B, r, 1]
  // (batch, destination) pairs: ScatterND adds whole rows, no index per channel to expand
  const batchScalar = b.Squeeze(b.Slice(shape, int([0]), int([1])), int([0]));
  const batchColumn = b.Expand(
    b.Unsqueeze(b.Range(scalarInt(0), batchScalar, scalarInt(1)), int([1, 2])),
    b.Shape(dstOfColumn),
  ); // [B, r, 1]
  const pairs = b.Concat(batchColumn, dstOfColumn, { axis: -1 }); // [B, r, 2]
  const summed = b.ScatterND(xd, pairs, moved, { reduction: "add" });
  const batchNd = b.Slice(b.Shape(xd), int([0]), int([2]));
  const ones = (dims: Value) =>
    b.ConstantOfShape(dims, {
      value: Tensor.fromArray(DataType.FLOAT, [1], [1]),
    });
  const counts = b.ScatterElements(
    ones(b.Concat(batchNd, int([1]), { axis: 0 })),
    dstOfColumn,
    ones(b.Concat(b.Shape(dstOf), int([1]), { axis: 0 })),
    { axis: 1, reduction: "add" },
  );
  const merged = b.Concat(kept, b.Div(summed, counts), { axis: 1 }); // [B, N − r, C]

  // ---- unmerge: the row of the merged output every position reads
  const keep = b.Sub(nsVec, r); // [1]
  const batch = b.Slice(shape, int([0]), int([1]));
  const keptRows = b.Expand(
    b.Range(scalarInt(0), b.Squeeze(keep, int([0])), scalarInt(1)),
    b.Concat(batch, keep, { axis: 0 }),
  );
  const srcRows = b.ScatterElements(
    order,
    order,
    b.Concat(b.Add(dstOf, keep), keptRows, { axis: 1 }),
    { axis: 1 },
  ); // [B, Ns]: the row each source reads
  const dstRowsAll = b.Expand(
    b.Add(b.Range(scalarInt(0), nd, scalarInt(1)), keep),
    b.Concat(batch, b.Unsqueeze(nd, int([0])), { axis: 0 }),
  );
  const positions = b.Concat(srcIdx, dstIdx, { axis: 0 }); // [N]: position of each row of `rows`
  const inverse = b.ScatterElements(positions, positions, b.Range(scalarInt(0), n, scalarInt(1)), {
    axis: 0,
  });
  const rows = b.Gather(b.Concat(srcRows, dstRowsAll, { axis: 1 }), inverse, { axis: 1 }); // [B, N]

  // rewire: the region reads the merged tokens, the outside reads the unmerged output
  for (const node of region.nodes)
    node.inputs.forEach((input, i) => {
      if (input === h) node.setInput(i, merged);
    });
  const output = region.output;
  const readers = output.uses().filter((u) => !region.nodes.has(u.node));
  const unmerged = b.GatherND(output, b.Unsqueeze(rows, last), { batch_dims: 1 });
  for (const use of readers) use.node.setInput(use.index, unmerged);
  const at = graph.outputs.indexOf(output);
  if (at >= 0) {
    const name = output.name;
    output.name = `${name}/merged`;
    unmerged.name = name;
    unmerged.type = output.type;
    graph.outputs[at] = unmerged;
  }
}

/** The tokens' similarity source: the region input, or the keys projected from it (full size). */
function similaritySource(b: Builder, region: TokenRegion, settings: MergeSettings): Value {
  const projection = region.keyProjection;
  if (settings.similarity !== "keys" || !projection) return region.input;
  const { matmul, bias } = projection;
  const keys = b.op(matmul.opType, [region.input, ...matmul.inputs.slice(1)], attributesOf(matmul));
  const biasValue = bias?.inputs.find((v) => v && v !== matmul.outputs[0]);
  return bias && biasValue && bias.inputs.includes(matmul.outputs[0])
    ? b.Add(keys, biasValue)
    : keys;
}

function attributesOf(node: { attributes: ReadonlyMap<string, unknown> }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, a] of node.attributes) out[name] = (a as { value: unknown }).value;
  return out;
}

/** A reduction over the last axis, with axes as an attribute (opset < 18) or an input. */
function reduce(
  b: Builder,
  opset: number,
  op: "ReduceL2" | "ReduceMax",
  x: Value,
  keep = true,
): Value {
  const keepdims = keep ? 1 : 0;
  return opset >= 18
    ? b.op(op, [x, b.int64s([-1])], { keepdims })
    : b.op(op, [x], { axes: [-1], keepdims });
}
