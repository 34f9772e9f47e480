import { describe, expect, it } from "vitest";
import {
  type Constraint,
  ConstraintSyntaxError,
  judge,
  parseConstraint,
} from "../../src/evaluate/constraints.js";

describe("parseConstraint", () => {
  it.each<[string, Partial<Constraint>]>([
    [
      "fidelity.top1 >= 0.98",
      { metric: "fidelity", key: "top1", op: ">=", bound: 0.98, relative: false },
    ],
    [
      "latency.p50 <= 0.5 * reference",
      { metric: "latency", key: "p50", op: "<=", bound: 0.5, relative: true },
    ],
    [
      "size.bytes<0.3*reference",
      { metric: "size", key: "bytes", op: "<", bound: 0.3, relative: true },
    ],
    [
      "memory.peak < reference",
      { metric: "memory", key: "peak", op: "<", bound: 1, relative: true },
    ],
    [
      "fidelity.logits.kl > -1e-3",
      { metric: "fidelity", key: "logits.kl", op: ">", bound: -0.001 },
    ],
    ["  my-metric.value-x >= .5  ", { metric: "my-metric", key: "value-x", bound: 0.5 }],
    [
      "recognition.cer <= reference + 0.02",
      { metric: "recognition", key: "cer", bound: 1, relative: true, offset: 0.02 },
    ],
    [
      "accuracy.top1 >= 0.99*reference-1e-3",
      { metric: "accuracy", key: "top1", bound: 0.99, relative: true, offset: -0.001 },
    ],
    ["fidelity.top1 >= 0.98", { offset: 0 }],
  ])("%s", (text, expected) => {
    expect(parseConstraint(text)).toMatchObject(expected);
  });

  it.each([
    ["top1 >= 0.98", /<metric>\.<value>/, 0],
    ["fidelity.top1 == 0.98", /"==" is not a comparison/, 14],
    ["fidelity.top1 0.98", /expected a comparison/, 14],
    ["latency.p50 <= fast", /expected a number/, 15],
    ["latency.p50 <= 0.5 * baseline", /only `reference`/, 21],
    ["latency.p50 <= 0.5 reference", /unexpected "reference"/, 19],
    ["recognition.cer <= reference * 2", /unexpected "\* 2" after reference/, 29],
    ["recognition.cer <= reference + x", /reference \+ 0.02/, 29],
  ])("rejects %s", (text, message, column) => {
    try {
      parseConstraint(text);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConstraintSyntaxError);
      expect((error as Error).message).toMatch(message);
      expect((error as ConstraintSyntaxError).column).toBe(column);
    }
  });
});

describe("judge", () => {
  const constraints = ["fidelity.top1 >= 0.98", "latency.p50 <= 0.5 * reference"].map(
    parseConstraint,
  );
  const reference = { latency: { p50: 10 }, fidelity: { top1: 1 } };

  it.each([
    [{ fidelity: { top1: 0.99 }, latency: { p50: 4 } }, true, [true, true]],
    [{ fidelity: { top1: 0.98 }, latency: { p50: 5 } }, true, [true, true]],
    [{ fidelity: { top1: 0.97 }, latency: { p50: 4 } }, false, [false, true]],
    [{ fidelity: { top1: 0.99 }, latency: { p50: 5.01 } }, false, [true, false]],
    [{ fidelity: { top1: Number.NaN }, latency: { p50: 1 } }, false, [false, true]],
    [{ latency: { p50: 1 } }, false, [false, true]],
  ])("%j → accepted %s", (values, accepted, passed) => {
    const verdict = judge(constraints, values, reference);
    expect(verdict.accepted).toBe(accepted);
    expect(verdict.checks.map((c) => c.passed)).toEqual(passed);
  });

  it("an allowance on the reference: reference + d", () => {
    const allowance = [parseConstraint("recognition.cer <= reference + 0.02")];
    const ref = { recognition: { cer: 0.01 } };
    expect(judge(allowance, { recognition: { cer: 0.03 } }, ref).accepted).toBe(true);
    const failed = judge(allowance, { recognition: { cer: 0.031 } }, ref).checks[0]!;
    expect(failed.passed).toBe(false);
    expect(failed.reason).toBe("recognition.cer = 0.031 not <= 0.03 (reference 0.01 + 0.02)");
  });

  it("says why", () => {
    const verdict = judge(constraints, { fidelity: { top1: 0.5 }, latency: { p50: 7 } }, reference);
    expect(verdict.checks.map((c) => c.reason)).toEqual([
      "fidelity.top1 = 0.5 not >= 0.98",
      "latency.p50 = 7 not <= 5 (0.5 × reference 10)",
    ]);
    expect(judge(constraints, { fidelity: {} }, reference).checks[0]!.reason).toBe(
      "fidelity.top1 was not measured",
    );
    expect(
      judge(constraints, { fidelity: { top1: 1 }, latency: { p50: 1 } }, undefined).checks[1]!
        .reason,
    ).toMatch(/not measured on the reference/);
  });
});
