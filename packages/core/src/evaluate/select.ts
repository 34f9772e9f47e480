/**
 * Picking among accepted candidates: the best by one objective, or the Pareto front of two.
 * Candidates come in plan order, which also breaks ties (the earlier step wins).
 */
import { fmt, type MetricValues } from "./constraints.js";

export type Direction = "minimize" | "maximize";

export interface Objective {
  /** `<metric>.<value>`, e.g. `latency.p50`. */
  readonly name: string;
  readonly direction: Direction;
}

export interface Scored {
  readonly id: string;
  readonly accepted: boolean;
  readonly values: MetricValues;
}

export type Selection =
  | {
      readonly kind: "objective";
      readonly objective: Objective;
      /** The winner, or absent when no accepted candidate has the value. */
      readonly selected?: string;
      /** Other accepted candidates with exactly the winner's value (the first in plan order wins). */
      readonly tiedWith: readonly string[];
      readonly reason: string;
    }
  | {
      readonly kind: "pareto";
      readonly objectives: readonly [Objective, Objective];
      /** Accepted candidates no other accepted candidate beats on both values, in plan order. */
      readonly front: readonly string[];
      readonly reason: string;
    }
  | { readonly kind: "none"; readonly reason: string };

function metricValue(values: MetricValues, name: string): number | undefined {
  const dot = name.indexOf(".");
  return values[name.slice(0, dot)]?.[name.slice(dot + 1)];
}

export function selectByObjective(candidates: readonly Scored[], objective: Objective): Selection {
  const accepted = candidates.filter((c) => c.accepted);
  const scored = accepted
    .map((c) => ({ id: c.id, value: metricValue(c.values, objective.name) }))
    .filter(
      (c): c is { id: string; value: number } => c.value !== undefined && !Number.isNaN(c.value),
    );
  if (scored.length === 0) {
    return {
      kind: "objective",
      objective,
      tiedWith: [],
      reason:
        accepted.length === 0
          ? "no candidate met the constraints"
          : `no accepted candidate has a value for ${objective.name}`,
    };
  }
  const sign = objective.direction === "minimize" ? 1 : -1;
  let best = scored[0]!;
  for (const c of scored) if (sign * (c.value - best.value) < 0) best = c;
  const tiedWith = scored.filter((c) => c !== best && c.value === best.value).map((c) => c.id);
  const verb = objective.direction === "minimize" ? "smallest" : "largest";
  return {
    kind: "objective",
    objective,
    selected: best.id,
    tiedWith,
    reason:
      `the ${verb} ${objective.name} (${fmt(best.value)}) among ${scored.length} accepted candidate${scored.length === 1 ? "" : "s"}` +
      (tiedWith.length > 0
        ? `, tied with ${tiedWith.join(", ")} (the first in plan order wins)`
        : ""),
  };
}

export function paretoFront(
  candidates: readonly Scored[],
  objectives: readonly [Objective, Objective],
): Selection {
  const points = candidates
    .filter((c) => c.accepted)
    .map((c) => ({
      id: c.id,
      // Both as "smaller is better", so one dominance test serves every direction.
      v: objectives.map((o) => {
        const value = metricValue(c.values, o.name);
        return value === undefined ? Number.NaN : o.direction === "minimize" ? value : -value;
      }),
    }))
    .filter((p) => p.v.every((x) => !Number.isNaN(x)));
  if (points.length === 0) {
    return {
      kind: "pareto",
      objectives,
      front: [],
      reason: "no accepted candidate has both values",
    };
  }
  const dominates = (a: number[], b: number[]) =>
    a.every((x, i) => x <= b[i]!) && a.some((x, i) => x < b[i]!);
  const front = points.filter((p) => !points.some((q) => dominates(q.v, p.v))).map((p) => p.id);
  return {
    kind: "pareto",
    objectives,
    front,
    reason: `${front.length} of ${points.length} accepted candidates are not beaten on both ${objectives[0].name} and ${objectives[1].name}`,
  };
}
