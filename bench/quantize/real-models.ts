/**
 * Every quantization pass on the real trained models that npm packages ship (PaddleOCR's
 * PP-OCRv4 text-line recognizer, Silero VAD v5), each scored on its own task against fp32:
 * character error rate on rendered text lines, F1 of speech frames on synthesized speech.
 * Prints one markdown table per model (bench/README.md records it).
 *
 *   pnpm bench:quantize:real-models
 *   BENCH_MODELS=vad pnpm bench:quantize:real-models   # one model: ocr or vad
 *   BENCH_VARIANTS=fp16 pnpm bench:quantize:real-models   # the variants named fp16…
 *
 * The models, data and scoring are test/models' (quantize-table.ts), so the CI test
 * (test/models/quantize-floors.test.ts) and this table measure the same thing.
 */
import {
  formatTable,
  ocrTask,
  type Row,
  runVariant,
  VARIANTS,
  vadTask,
} from "../../test/models/quantize-table.js";

const only = process.env.BENCH_MODELS?.split(",").map((m) => m.trim());
// BENCH_VARIANTS=fp16: only the variants whose name starts with one of these
const variants = process.env.BENCH_VARIANTS?.split(",").map((v) => v.trim());
const tasks = { ocr: ocrTask, vad: vadTask };
for (const [name, make] of Object.entries(tasks)) {
  if (only && !only.includes(name)) continue;
  const task = await make();
  if (typeof task === "string") {
    console.log(`skipped: ${task}\n`);
    continue;
  }
  const fp32 = await task.score(task.path);
  const rows: Row[] = [];
  for (const variant of VARIANTS) {
    if (variants && !variants.some((v) => variant.name.startsWith(v))) continue;
    rows.push(await runVariant(task, variant, fp32));
  }
  console.log(`${formatTable(task, fp32, rows)}\n`);
  for (const row of rows)
    for (const warning of row.warnings) console.log(`  ${row.variant.name} warned: ${warning}`);
  console.log();
}
