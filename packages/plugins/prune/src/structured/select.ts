import type { Tensor } from "@lathe/core";
import type { ChannelStatistics } from "./activations.js";
import type { ConstantSlot, UnitGroup } from "./trace.js";

export type StructuredCriterion = "magnitude" | "wanda" | "flap";

/**
 * Σ f(w) over each entry of `axis` (the hyperplane of a column of W[K, N] for axis 1, of a
 * row for axis 0).
 */
export function perEntry(tensor: Tensor, axis: number, f: (w: number) => number): Float64Array {
  const dims = tensor.dims;
  const size = dims[axis] as number;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const values = tensor.toArray() as Float32Array;
  const out = new Float64Array(size);
  for (let i = 0; i < values.length; i++) {
    const p = Math.floor(i / inner) % size;
    out[p] = (out[p] as number) + f(values[i] as number);
  }
  return out;
}

/**
 * Importance of each unit of a group:
 * - magnitude: ‖weights‖₂ of the unit (its columns in the producing layers, its rows in the
 *   reading ones);
 * - wanda: Σ over the reading layers' rows p of ‖X_p‖₂ · Σ_j |W_pj| (Wanda's |W|·‖X‖ summed over
 *   the structure);
 * - flap: Σ over the same rows of Var(X_p) · Σ_j W_pj², the fluctuation metric of FLAP (An et al.
 *   2024): how much the output moves when the channel is replaced by its mean.
 */
export function unitScores(
  group: UnitGroup,
  criterion: StructuredCriterion,
  statistics: ReadonlyMap<ConstantSlot, ChannelStatistics>,
): Float64Array {
  const scores = new Float64Array(group.units);
  const add = (slot: ConstantSlot, perPosition: Float64Array) => {
    perPosition.forEach((v, p) => {
      const u = group.unitOf[slot.tracked.base + p] as number;
      scores[u] = (scores[u] as number) + v;
    });
  };
  for (const slot of group.constants) {
    if (criterion === "magnitude") {
      if (slot.role !== "other")
        add(
          slot,
          perEntry(slot.tensor, slot.axis, (w) => w * w),
        );
      continue;
    }
    if (slot.role !== "consumer") continue;
    const stats = statistics.get(slot);
    if (!stats) throw new Error(`no calibration statistics for "${slot.node.name}"`);
    if (criterion === "wanda") {
      const l1 = perEntry(slot.tensor, slot.axis, Math.abs);
      add(
        slot,
        l1.map((v, p) => v * stats.norm(p)),
      );
    } else {
      const l2 = perEntry(slot.tensor, slot.axis, (w) => w * w);
      add(
        slot,
        l2.map((v, p) => v * stats.variance(p)),
      );
    }
  }
  return criterion === "magnitude" ? scores.map(Math.sqrt) : scores;
}

/** Positions per unit on the layer that reads the units (its input channels per unit). */
export function unitWidth(group: UnitGroup): number {
  const consumer = group.constants.find((c) => c.role === "consumer");
  return consumer ? consumer.tracked.size / group.units : 1;
}

/**
 * Units kept when `ratio` of `units` go: rounded so the kept width (units × width) is a
 * multiple of `multipleOf` (the nearest such count; at least one unit stays).
 */
export function keptCount(units: number, ratio: number, width: number, multipleOf: number): number {
  const target = Math.max(1, units - Math.round(ratio * units));
  if (ratio === 0) return units;
  let best: number | undefined;
  for (let k = 1; k <= units; k++) {
    if (Math.round(k * width) % multipleOf !== 0) continue;
    if (best === undefined || Math.abs(k - target) < Math.abs(best - target)) best = k;
  }
  return best ?? target;
}

/** Indices of the `count` lowest scores (ties: the lower index first). */
export function lowest(scores: ArrayLike<number>, count: number): number[] {
  return Array.from({ length: scores.length }, (_, i) => i)
    .sort((a, b) => (scores[a] as number) - (scores[b] as number) || a - b)
    .slice(0, count);
}

/**
 * One ratio over several groups (global): each group's scores divided by their mean (so layers
 * of different scales compare), the lowest `ratio` of all units removed, then each group's count
 * rounded like `keptCount`.
 */
export function globalRemoval(
  groups: readonly { scores: Float64Array; width: number }[],
  ratio: number,
  multipleOf: number,
): number[][] {
  const pooled: { g: number; u: number; s: number }[] = [];
  groups.forEach(({ scores }, g) => {
    const mean = scores.reduce((a, b) => a + b, 0) / Math.max(1, scores.length) || 1;
    scores.forEach((s, u) => {
      pooled.push({ g, u, s: s / mean });
    });
  });
  pooled.sort((a, b) => a.s - b.s || a.g - b.g || a.u - b.u);
  const counts = groups.map(() => 0);
  const total = Math.round(ratio * pooled.length);
  for (const { g } of pooled.slice(0, total)) counts[g] = (counts[g] as number) + 1;
  return groups.map(({ scores, width }, g) => {
    const units = scores.length;
    const share = (counts[g] as number) / units;
    const kept = keptCount(units, Math.min(share, (units - 1) / units), width, multipleOf);
    return lowest(scores, units - kept);
  });
}
