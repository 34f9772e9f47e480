import { type EvaluationReport, errors } from "@lathe/core";
import { describe, expect, it } from "vitest";
import { renderError } from "../src/error-output.js";
import { formatResults } from "../src/format/evaluation.js";
import { formatTable } from "../src/format/table.js";
import { formatBytes, formatCount, formatInteger } from "../src/format/units.js";

describe("formatBytes", () => {
  it("uses decimal units with one decimal", () => {
    expect([0, 999, 1000, 1536, 497_800_000, 12_300_000_000].map(formatBytes)).toEqual([
      "0 B",
      "999 B",
      "1.0 kB",
      "1.5 kB",
      "497.8 MB",
      "12.3 GB",
    ]);
  });

  it("picks the unit after rounding", () => {
    expect(formatBytes(999_960)).toBe("1.0 MB");
    expect(formatBytes(999_940)).toBe("999.9 kB");
  });
});

describe("formatCount", () => {
  it("abbreviates thousands, millions and billions", () => {
    expect([7, 999, 12_345, 124_400_000, 7_241_732_096].map(formatCount)).toEqual([
      "7",
      "999",
      "12.3 k",
      "124.4 M",
      "7.2 B",
    ]);
  });
});

describe("formatInteger", () => {
  it("groups thousands", () => {
    expect([0, 999, 1000, 1_234_567, -4200].map(formatInteger)).toEqual([
      "0",
      "999",
      "1,000",
      "1,234,567",
      "-4,200",
    ]);
  });
});

describe("formatTable", () => {
  it("pads columns, right-aligns numeric ones and leaves no trailing spaces", () => {
    const table = formatTable(
      [
        { header: "op" },
        { header: "count" },
        { header: "size", align: "right" },
        { header: "note" },
      ],
      [
        ["MatMul", 1234, "1.5 MB", ""],
        ["Add", 7, "12 B", "fused"],
      ],
    );
    expect(table.split("\n")).toEqual([
      "  op      count    size  note",
      "  MatMul  1,234  1.5 MB",
      "  Add         7    12 B  fused",
    ]);
  });

  it("prints no header row when every header is empty", () => {
    const table = formatTable([{ header: "" }, { header: "" }], [["ir version", "10"]], {
      indent: 0,
    });
    expect(table).toBe("ir version  10");
  });
});

describe("renderError", () => {
  it("prints a LatheError as its own text, with the stack only when verbose", () => {
    const error = errors.fileNotFound("m.onnx");
    expect(renderError(error, false)).toBe(`error: ${error.format()}`);
    const verbose = renderError(error, true);
    expect(verbose).toContain("code: FILE_NOT_FOUND");
    expect(verbose).toMatch(/^\s+at /m);
  });

  it("calls any other error a bug and hides its stack unless verbose", () => {
    const bug = new TypeError("cannot read properties of undefined");
    const quiet = renderError(bug, false);
    expect(quiet.split("\n")).toEqual([
      "error: cannot read properties of undefined",
      "this is a bug in Lathe; please report it with the command you ran (run again with --verbose or DEBUG=1 to see the stack trace)",
    ]);
    expect(renderError(bug, true)).toMatch(/^\s+at /m);
  });
});

describe("formatResults", () => {
  it("marks a candidate whose passes warned, and prints the warning under notes", () => {
    const model = (step: string, notes: string[]) => ({
      step,
      path: step,
      values: { size: { bytes: 1000 } },
      metrics: {},
      notes,
    });
    const evaluation = {
      metrics: [],
      constraints: [],
      target: { providers: ["cpu"], threads: 1, shapes: {} },
      reference: model("model", []),
      candidates: [
        {
          ...model("int8", ["warning (step int8): model: calibrated on 8 generated inputs"]),
          accepted: true,
          checks: [],
        },
        { ...model("fp16", []), accepted: true, checks: [] },
      ],
      selection: { kind: "pareto", objectives: [], front: [], reason: "front" },
    } as unknown as EvaluationReport;
    const text = formatResults(evaluation);
    expect(text).toMatch(/int8 .*accepted ⚠ see warning below/);
    expect(text).not.toMatch(/fp16 .*⚠/);
    expect(text).toMatch(
      /notes:\n {2}int8: warning \(step int8\): model: calibrated on 8 generated/,
    );
  });

  it("prints the selected candidate's gain over the reference as ratios", () => {
    const model = (
      step: string,
      p50: number,
      bytes: number,
      fidelity?: Record<string, number>,
    ) => ({
      step,
      path: step,
      values: { latency: { p50 }, size: { bytes }, ...(fidelity ? { fidelity } : {}) },
      metrics: {},
      notes: [],
    });
    const text = formatResults({
      metrics: [],
      constraints: [],
      target: { providers: ["cpu"], threads: 0, shapes: {} },
      reference: model("model", 30, 4000),
      candidates: [
        {
          ...model("int8", 10, 1000, { top1: 0.95, "logits.top1": 0.95, relL2: 0.03 }),
          accepted: true,
          checks: [],
        },
      ],
      selection: {
        kind: "objective",
        objective: { name: "latency.p50", direction: "minimize" },
        selected: "int8",
        output: "selected",
        reason: "fastest",
      },
    } as unknown as EvaluationReport);
    expect(text).toMatch(
      /^gain: int8 against model: 3\.00× faster \(latency p50\); 4\.00× smaller \(size on disk\); fidelity top1 0\.95$/m,
    );
  });

  it("points once at a constraint that could not be judged", () => {
    const check = {
      constraint: "odd.x <= 2",
      passed: false,
      reason: "odd.x was not measured",
      where: "/r/recipe.yaml:11:7 evaluate.constraints[0]",
    };
    const model = { path: "p", values: {}, metrics: {}, notes: [] };
    const text = formatResults({
      metrics: [],
      constraints: ["odd.x <= 2"],
      target: { providers: ["cpu"], threads: 0, shapes: {} },
      reference: { ...model, step: "model" },
      candidates: ["a", "b"].map((step) => ({ ...model, step, accepted: false, checks: [check] })),
      selection: { kind: "none", reason: "no candidate met the constraints" },
    });
    const lines = text.split("\n").filter((l) => l.includes("cannot be judged"));
    expect(lines).toEqual([
      '/r/recipe.yaml:11:7 evaluate.constraints[0]: "odd.x <= 2" cannot be judged: odd.x was not measured',
    ]);
  });
});
