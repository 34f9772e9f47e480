import { maxAbsDiff } from "@lathe/core/testing";
import { describe, expect, it } from "vitest";
import {
  alphasCumprodFor,
  baselineSchedule,
  CLEAN,
  continuousVp,
  discreteVp,
  type NoiseModel,
  planSolver,
  runPlan,
  SOLVERS,
  varianceExploding,
} from "../src/index.js";
import { exactEndpoint, gaussianDenoiser, normals, startOf } from "./gaussian.js";

const gaussian = { mean: [1.5, -0.5, 0.2], std: [0.3, 1.2, 0.05] };
const linear = discreteVp(alphasCumprodFor("linear", 1000));

async function endpoint(
  noise: NoiseModel,
  solver: (typeof SOLVERS)[number],
  steps: number,
  kind = "logsnr" as const,
) {
  const start = startOf(noise);
  const x = normals(3 * 16).map((v) => v * Math.sqrt(start.alpha ** 2 + start.sigma ** 2));
  const points = baselineSchedule(kind, noise, steps);
  const run = await runPlan(planSolver(solver, points), x, gaussianDenoiser(gaussian));
  return {
    got: run.states[run.states.length - 1] as Float64Array,
    exact: exactEndpoint(gaussian, x, start),
  };
}

describe("solvers against the exact probability-flow ODE of Gaussian data", () => {
  it("DDIM over all 1000 training timesteps lands on the exact endpoint", async () => {
    const { got, exact } = await endpoint(linear, "ddim", 1000, "uniform-t" as never);
    expect(maxAbsDiff(got, exact)).toBeLessThan(5e-3);
  });

  it.each(SOLVERS)(
    "%s converges on discrete VP, continuous VP and VE schedules",
    async (solver) => {
      for (const noise of [linear, continuousVp(0.1, 20), varianceExploding(0.002, 80)]) {
        const coarse = await endpoint(noise, solver, 10);
        const fine = await endpoint(noise, solver, 200);
        const fineError = maxAbsDiff(fine.got, fine.exact);
        // DDIM is first order: 200 steps leave a few hundredths; the multistep solvers far less.
        expect(fineError, `${solver} ${noise.kind}`).toBeLessThan(solver === "ddim" ? 5e-2 : 1e-2);
        expect(fineError, `${solver} ${noise.kind}`).toBeLessThan(
          maxAbsDiff(coarse.got, coarse.exact),
        );
      }
    },
  );

  it("the multistep solvers beat DDIM at 10 steps", async () => {
    const error = async (solver: (typeof SOLVERS)[number]) => {
      const { got, exact } = await endpoint(continuousVp(0.1, 20), solver, 10);
      return maxAbsDiff(got, exact);
    };
    const ddim = await error("ddim");
    expect(await error("dpmpp-2m")).toBeLessThan(ddim);
    expect(await error("ipndm")).toBeLessThan(ddim);
  });

  it("DDIM is exact for a point mass at every step count: D is constant along the path", async () => {
    const mean = [2, -1];
    const denoise = async (x: Float64Array) => Float64Array.from(x, (_, i) => mean[i % 2] ?? 0);
    const x = normals(8);
    for (const steps of [1, 3]) {
      const points = baselineSchedule("uniform-t", linear, steps);
      const run = await runPlan(planSolver("ddim", points), x, denoise);
      const end = run.states[steps] as Float64Array;
      expect(
        maxAbsDiff(
          end,
          Float64Array.from(x, (_, i) => mean[i % 2] ?? 0),
        ),
      ).toBeLessThan(1e-12);
      // The intermediate states are α·μ + σ·ε with the starting ε.
      const first = points[0]!;
      const eps = Float64Array.from(
        x,
        (v, i) => (v - first.alpha * (mean[i % 2] ?? 0)) / first.sigma,
      );
      for (let k = 1; k < steps; k++) {
        const p = points[k]!;
        const expected = Float64Array.from(
          x,
          (_, i) => p.alpha * (mean[i % 2] ?? 0) + p.sigma * (eps[i] ?? 0),
        );
        expect(maxAbsDiff(run.states[k]!, expected)).toBeLessThan(1e-9);
      }
    }
  });

  it("every plan ends at the clean point and makes one denoiser call per step", async () => {
    for (const solver of SOLVERS) {
      const points = baselineSchedule("edm", linear, 7);
      expect(points).toHaveLength(8);
      expect(points.at(-1)).toBe(CLEAN);
      let calls = 0;
      await runPlan(planSolver(solver, points), normals(3), async (x) => {
        calls++;
        return x;
      });
      expect(calls).toBe(7);
    }
  });
});

describe("baseline schedules", () => {
  it("uniform-t on a discrete schedule is diffusers' trailing spacing", () => {
    expect(baselineSchedule("uniform-t", linear, 4).map((p) => p.t)).toEqual([
      999, 749, 499, 249, -1,
    ]);
  });

  it("every kind gives K distinct, decreasing noise levels from the top", () => {
    for (const kind of ["uniform-t", "edm", "logsnr", "kl-optimal"] as const) {
      for (const noise of [linear, continuousVp(0.1, 20), varianceExploding(0.002, 80)]) {
        const points = baselineSchedule(kind, noise, 12);
        expect(points).toHaveLength(13);
        expect(points[0]!.t).toBeCloseTo(noise.tMax, 6);
        for (let i = 1; i < points.length; i++) {
          expect(points[i]!.sigma / points[i]!.alpha).toBeLessThan(
            points[i - 1]!.sigma / points[i - 1]!.alpha,
          );
        }
      }
    }
  });
});
