import { describe, expect, it } from "vitest";
import {
  alphasCumprodFor,
  baselineSchedule,
  cheapestPath,
  discreteVp,
  gitsPath,
  ossPath,
  planSolver,
  refineSchedule,
  rowsRmse,
  runPlan,
  solveTeacher,
  teacherGrid,
} from "../src/index.js";
import { gaussianDenoiser, normals } from "./gaussian.js";

const noise = discreteVp(alphasCumprodFor("linear", 1000));
const denoise = gaussianDenoiser({ mean: [1, -1, 0.5, 0], std: [0.1, 0.2, 0.05, 0.3] });
const rows = 24;
const width = 4;
const start = normals(rows * width, 11);
const train = { start: 0, end: 12, width };
const validation = { start: 12, end: 24, width };

describe("dynamic programming over the teacher grid", () => {
  it("finds the cheapest K-step path, as brute force does", () => {
    const n = 9;
    const cost = Array.from({ length: n }, (_, i) =>
      Array.from({ length: n + 1 }, (_, j) =>
        j > i ? Math.abs(Math.sin(i * 7 + j * 3)) + (j - i) * 0.05 : Infinity,
      ),
    );
    const edge = (k: number, i: number, j: number) => 1.15 ** (k - 1) * (cost[i]?.[j] ?? Infinity);
    for (const steps of [1, 2, 3, 5]) {
      let best = Infinity;
      const walk = (k: number, at: number, total: number) => {
        if (k === steps) {
          if (at === n) best = Math.min(best, total);
          return;
        }
        for (let j = at + 1; j <= n; j++) walk(k + 1, j, total + edge(k + 1, at, j));
      };
      walk(0, 0, 0);
      const path = cheapestPath(n, steps, edge);
      expect(path.cost).toBeCloseTo(best, 12);
      expect(path.indices[0]).toBe(0);
      expect(path.indices.at(-1)).toBe(n);
      expect(path.indices).toHaveLength(steps + 1);
      const recomputed = path.indices
        .slice(1)
        .reduce((sum, j, k) => sum + edge(k + 1, path.indices[k]!, j), 0);
      expect(recomputed).toBeCloseTo(best, 12);
    }
  });

  it("GITS and OSS pick schedules no worse than the grid's uniform choice on the training rows", async () => {
    const teacher = await solveTeacher(denoise, teacherGrid(noise, 60), start, "dpmpp-2m");
    const target = teacher.states.at(-1)!;
    const endpointError = async (indices: readonly number[]) => {
      const run = await runPlan(
        planSolver(
          "dpmpp-2m",
          indices.map((i) => teacher.grid[i]!),
        ),
        start,
        denoise,
      );
      return rowsRmse(run.states.at(-1)!, target, train);
    };
    const n = teacher.grid.length - 1;
    const uniform = [0, Math.round(n / 4), Math.round(n / 2), Math.round((3 * n) / 4), n];
    const oss = await ossPath(teacher, 4, "dpmpp-2m", denoise, train);
    expect(oss.indices).toHaveLength(5);
    expect(await endpointError(oss.indices)).toBeLessThanOrEqual(await endpointError(uniform));
    const gits = gitsPath(teacher, 4, train);
    expect(gits.indices).toHaveLength(5);
    expect(Number.isFinite(gits.cost)).toBe(true);
  });
});

describe("continuous refinement", () => {
  it("never ends worse than its start on the validation rows, and usually better", async () => {
    const teacher = await solveTeacher(denoise, teacherGrid(noise, 100), start, "dpmpp-2m");
    const target = teacher.states.at(-1)!;
    for (const kind of ["uniform-t", "edm", "kl-optimal"] as const) {
      const initial = baselineSchedule(kind, noise, 4);
      const before = rowsRmse(
        (await runPlan(planSolver("ddim", initial), start, denoise)).states.at(-1)!,
        target,
        validation,
      );
      const refined = await refineSchedule(noise, initial, denoise, {
        solver: "ddim",
        train,
        validation,
        target,
        start,
        maxRuns: 80,
        patience: 3,
      });
      expect(refined.validation, kind).toBeLessThanOrEqual(before);
      expect(refined.points).toHaveLength(5);
      const after = rowsRmse(
        (await runPlan(planSolver("ddim", refined.points), start, denoise)).states.at(-1)!,
        target,
        validation,
      );
      expect(after).toBeCloseTo(refined.validation, 12);
      if (kind === "uniform-t") expect(refined.validation).toBeLessThan(before);
    }
  });
});
