import { describe, expect, it } from "vitest";
import { paretoFront, type Scored, selectByObjective } from "../../src/evaluate/select.js";

const c = (id: string, accepted: boolean, p50: number, top1: number): Scored => ({
  id,
  accepted,
  values: { latency: { p50 }, fidelity: { top1 } },
});

describe("selectByObjective", () => {
  const candidates = [
    c("a", true, 5, 0.99),
    c("b", false, 1, 0.5),
    c("c", true, 3, 0.98),
    c("d", true, 3, 0.97),
  ];

  it("picks the best accepted candidate; ties go to the first in plan order", () => {
    const s = selectByObjective(candidates, { name: "latency.p50", direction: "minimize" });
    expect(s).toMatchObject({ kind: "objective", selected: "c", tiedWith: ["d"] });
    expect(s.reason).toMatch(/smallest latency.p50 \(3\) among 3 accepted candidates, tied with d/);
  });

  it("maximizes", () => {
    const s = selectByObjective(candidates, { name: "fidelity.top1", direction: "maximize" });
    expect(s).toMatchObject({ selected: "a", tiedWith: [] });
  });

  it("says when nothing was accepted or measured", () => {
    const none = selectByObjective([c("b", false, 1, 0.5)], {
      name: "latency.p50",
      direction: "minimize",
    });
    expect(none).toMatchObject({ kind: "objective", reason: "no candidate met the constraints" });
    expect("selected" in none && none.selected).toBeFalsy();
    const missing = selectByObjective(candidates, { name: "size.bytes", direction: "minimize" });
    expect(missing.reason).toBe("no accepted candidate has a value for size.bytes");
  });
});

describe("paretoFront", () => {
  it("keeps the accepted candidates no other beats on both values", () => {
    const candidates = [
      c("fast", true, 1, 0.9),
      c("accurate", true, 5, 1),
      c("dominated", true, 6, 0.95),
      c("middle", true, 3, 0.95),
      c("rejected", false, 0.5, 1),
      c("twin", true, 3, 0.95),
    ];
    const s = paretoFront(candidates, [
      { name: "latency.p50", direction: "minimize" },
      { name: "fidelity.top1", direction: "maximize" },
    ]);
    expect(s).toMatchObject({ kind: "pareto", front: ["fast", "accurate", "middle", "twin"] });
    expect(s.reason).toMatch(/^4 of 5 accepted/);
  });
});
