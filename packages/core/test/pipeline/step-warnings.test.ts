import { describe, expect, it } from "vitest";
import { type StepReport, stepWarnings } from "../../src/index.js";

const step = (id: string, input: string, statistics: StepReport["statistics"]): StepReport => ({
  id,
  pass: "test/pass",
  plugin: "test@1",
  input,
  status: "ran",
  statistics,
});

describe("stepWarnings", () => {
  it("collects the warning statistics of a step and of every step it read from, in order", () => {
    const steps = new Map([
      ["int8", step("int8", "model", { warning: "calibrated on generated inputs", n: 3 })],
      ["fold", step("fold", "int8", { "warning 2": "second", other: "x" })],
      ["side", step("side", "model", { warning: "not upstream" })],
    ]);
    expect(stepWarnings(steps, "fold")).toEqual([
      "warning (step int8): calibrated on generated inputs",
      "warning (step fold): second",
    ]);
    expect(stepWarnings(steps, "missing")).toEqual([]);
  });
});
