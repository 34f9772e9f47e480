import { type DataRecord, type Model, type Node, type SessionFactory, Tensor } from "@lathe/core";
import type { WeightRole } from "./bits.js";
import { type BlockQuantConfig, dequantizeRows, quantizeRtn, transpose } from "./block-quant.js";
import { type GatherTarget, type MatMulTarget, weightRows } from "./targets.js";

/** One weight the pass will quantize, with its role and the config it gets. */
export interface PlannedWeight {
  readonly target: { kind: "matmul"; t: MatMulTarget } | { kind: "gather"; t: GatherTarget };
  readonly role: WeightRole;
  readonly config: BlockQuantConfig;
}

/** The fidelity cost of quantizing one group of weights alone. */
export interface GroupCost {
  readonly group: string;
  readonly weights: number;
  /** Relative L2 of the watched output against the float model over every record. */
  readonly relL2: number;
}

/**
 * The layer group of a weight: `embeddings`, `lm-head`, `layer <i>` from the exporter's module
 * path (`/transformer/h.3/…`, `/model/layers.3/…`, `blocks.3`), else `other`.
 */
export function layerGroup(node: Node, role: WeightRole): string {
  if (role === "embedding") return "embeddings";
  if (role === "head") return "lm-head";
  const m = /(?:^|[/._])(?:h|layers?|blocks?)[._/](\d+)(?=[/._]|$)/i.exec(node.name);
  return m ? `layer ${m[1]}` : "other";
}

/**
 * Quantizes each layer group alone (round to nearest, dequantized back into the float weights,
 * which is what MatMulNBits and GatherBlockQuantized compute up to their accumulation) and
 * measures `output` on `records` against the float model, so a user sees where the loss comes
 * from. Weights held by `Constant` nodes are left out. The model is restored before returning.
 */
export async function measureSensitivity(
  model: Model,
  weights: readonly PlannedWeight[],
  records: readonly DataRecord[],
  output: string,
  sessions: SessionFactory,
  signal?: AbortSignal,
): Promise<GroupCost[]> {
  const run = async () => {
    const results = await sessions.run(model, records, { outputs: [output] });
    return results.map((r) => Float32Array.from(r[output]!.toArray() as ArrayLike<number>));
  };
  const reference = await run();
  const groups = new Map<string, PlannedWeight[]>();
  for (const w of weights) {
    const node = w.target.t.node;
    const group = layerGroup(node, w.role);
    groups.set(group, [...(groups.get(group) ?? []), w]);
  }
  const costs: GroupCost[] = [];
  for (const [group, members] of sortedGroups(groups)) {
    signal?.throwIfAborted();
    const restore: (() => void)[] = [];
    for (const w of members) {
      const swapped = swapInDequantized(w);
      if (swapped) restore.push(swapped);
    }
    if (restore.length === 0) continue;
    try {
      costs.push({ group, weights: restore.length, relL2: relativeL2(await run(), reference) });
    } finally {
      // Last swapped first: a table two members share gets its float values back.
      for (const undo of restore.reverse()) undo();
    }
  }
  return costs;
}

/** Replaces a weight's stored float tensor by its dequantized values; returns how to undo it. */
function swapInDequantized(w: PlannedWeight): (() => void) | undefined {
  if (w.target.kind === "gather") {
    const { table, tensor } = w.target.t;
    if (!(table.constValue instanceof Tensor)) return undefined;
    const [rows, width] = tensor.dims as [number, number];
    const data = tensor.toArray() as Float32Array;
    const fake = dequantizeRows(quantizeRtn(data, rows, width, w.config));
    return swap(table, Tensor.fromArray(tensor.dataType, tensor.dims, fake));
  }
  const t = w.target.t;
  const source = t.weight.source;
  if (!(source.constValue instanceof Tensor)) return undefined;
  // [N, K] rows with alpha folded in; the stored tensor is [N, K] when storedAsNK, else [K, N].
  const rows = dequantizeRows(quantizeRtn(weightRows(t), t.n, t.k, w.config));
  if (t.alpha !== 1) for (let i = 0; i < rows.length; i++) rows[i] = rows[i]! / t.alpha;
  const data = t.storedAsNK ? rows : transpose(rows, t.n, t.k);
  return swap(source, Tensor.fromArray(t.weight.tensor.dataType, t.weight.tensor.dims, data));
}

function swap(value: { constValue: unknown }, tensor: Tensor): () => void {
  const original = value.constValue;
  value.constValue = tensor;
  return () => {
    value.constValue = original;
  };
}

function sortedGroups(groups: Map<string, PlannedWeight[]>): [string, PlannedWeight[]][] {
  const rank = (g: string) =>
    g === "embeddings"
      ? -1
      : g.startsWith("layer ")
        ? Number(g.slice(6))
        : g === "other"
          ? 1e9
          : 2e9;
  return [...groups].sort((a, b) => rank(a[0]) - rank(b[0]));
}

function relativeL2(got: readonly Float32Array[], want: readonly Float32Array[]): number {
  let num = 0;
  let den = 0;
  want.forEach((w, r) => {
    const g = got[r]!;
    for (let i = 0; i < w.length; i++) {
      num += (g[i]! - w[i]!) ** 2;
      den += w[i]! ** 2;
    }
  });
  return den > 0 ? Math.sqrt(num / den) : 0;
}
