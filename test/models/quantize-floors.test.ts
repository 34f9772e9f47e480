import { statSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  COLLAPSE,
  formatTable,
  ocrTask,
  type RealTask,
  type Row,
  runVariant,
  STATIC_FLOOR,
  type TaskScore,
  VARIANTS,
  vadTask,
} from "./quantize-table.js";
import { ocrModel, taskData, vadModel } from "./real-models.js";

/**
 * Every quantization pass on two real trained models that npm packages ship, each scored on
 * its own task against fp32 (test/models/README.md): the floors where they hold on
 * every run, the whole table printed (bench/quantize/real-models.ts prints the same table).
 */

const skipReason = (...reasons: (object | string)[]) =>
  reasons.find((r): r is string => typeof r === "string");

const cases = [
  {
    name: "PP-OCRv4 text-line recognizer on rendered lines (1 − character error rate)",
    skip: skipReason(ocrModel(), taskData("text")),
    make: ocrTask,
    // the task check itself: fp32 reads the rendered lines
    fp32Floor: 0.98,
  },
  {
    name: "Silero VAD v5 on synthesized speech (F1 of speech frames)",
    skip: skipReason(vadModel(), taskData("speech")),
    make: vadTask,
    fp32Floor: 0.9,
  },
];

for (const c of cases) {
  describe.skipIf(c.skip !== undefined)(c.name, () => {
    if (c.skip) it.skip(c.skip, () => {});
    let task: RealTask;
    let fp32: TaskScore;
    const rows = new Map<string, Row>();
    beforeAll(async () => {
      const made = await c.make();
      if (typeof made === "string") throw new Error(made);
      task = made;
      fp32 = await task.score(task.path);
    });
    afterAll(() => {
      if (rows.size > 0) console.log(formatTable(task, fp32, [...rows.values()]));
    });
    const run = async (name: string) => {
      const variant = VARIANTS.find((v) => v.name === name)!;
      const row = await runVariant(task, variant, fp32);
      rows.set(name, row);
      expect(row.error, `${name} failed`).toBeUndefined();
      return row;
    };

    it("fp32 does the task (the check works)", () => {
      expect(fp32.quality).toBeGreaterThanOrEqual(c.fp32Floor);
    });

    it("dynamic-int8: within 1 % absolute of fp32", async () => {
      expect((await run("dynamic-int8")).delta).toBeGreaterThanOrEqual(-0.01);
    });

    it("weight-only int8: within 0.5 % absolute of fp32", async () => {
      expect((await run("weight-only int8")).delta).toBeGreaterThanOrEqual(-0.005);
    });

    it("weight-only int4 and fp16 run (their numbers are in the table)", async () => {
      for (const name of ["weight-only int4", "fp16"]) {
        const row = await run(name);
        expect(row.score!.quality).toBeGreaterThan(COLLAPSE * fp32.quality);
      }
    });

    it("fp16 mixed: no worse on the task than whole fp16, and smaller than fp32", async () => {
      const whole = rows.get("fp16") ?? (await run("fp16"));
      const mixed = await run("fp16 mixed");
      // the recognizer misses "identical" by the same character at the default maxError
      // (bench/README.md: identical from maxError 5e-4, 38 of 47 layers float32, 0.81 of fp32)
      expect(mixed.score!.quality).toBeGreaterThanOrEqual(whole.score!.quality);
      expect(mixed.bytes!).toBeLessThan(statSync(task.path).size);
      expect(mixed.note).toMatch(/^\d+ of \d+ layers fp32$/);
    }, 300_000);

    it("static-int8 on real calibration data: one calibrator within 2 %, none collapses unwarned", async () => {
      const statics: Row[] = [];
      for (const calibrator of ["minmax", "percentile", "entropy", "entropy unguarded"])
        statics.push(await run(`static-int8 ${calibrator}`));
      expect(Math.max(...statics.map((r) => r.delta!))).toBeGreaterThanOrEqual(-STATIC_FLOOR);
      for (const row of statics) {
        if (row.score!.quality >= COLLAPSE * fp32.quality) continue;
        expect(row.warnings, `${row.variant.name} collapsed without a warning`).not.toEqual([]);
      }
    }, 180_000);
  });
}
