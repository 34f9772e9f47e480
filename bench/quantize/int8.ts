/**
 * int8 benchmark, side by side in one process on ONNX Runtime's CPU provider:
 * - zoo gpt2 at GPT-2-small size: fp32 against quantize/dynamic-int8 (both emitted forms),
 *   prefill 1×128 latency, file size, logits relative L2;
 * - zoo unet (small by default, BENCH_UNET=tiny for a quick look): fp32 against
 *   quantize/static-int8, latency and output PSNR.
 * Prints a table with PASS/FAIL against the floors; exits 1 when one fails.
 *
 *   pnpm bench:quantize:int8          # BENCH_REPEATS (default 10), BENCH_THREADS (default 0: ORT decides)
 */
import { type DataRecord, DataType, encodeModel, SeededRandom, Tensor } from "@lathe/core";
import { gpt2, unet } from "@lathe/plugin-zoo";
import * as ort from "onnxruntime-node";
import { dynamicInt8Pass } from "../../packages/plugins/quantize/src/int8/dynamic-int8.js";
import { staticInt8Pass } from "../../packages/plugins/quantize/src/int8/static-int8.js";
import {
  createSession,
  type Feeds,
  latencies,
  only,
  output,
  prefillFeeds,
  preset,
  REPEATS,
  relativeL2,
  THREADS,
  timedPass,
} from "./measure.js";

const UNET_PRESET = process.env.BENCH_UNET ?? "small";

interface Row {
  what: string;
  value: string;
  floor?: string;
  pass?: boolean;
}
const rows: Row[] = [];

function psnr(a: Float32Array, b: Float32Array): number {
  let mse = 0;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < b.length; i++) {
    mse += (a[i]! - b[i]!) ** 2;
    lo = Math.min(lo, b[i]!);
    hi = Math.max(hi, b[i]!);
  }
  return 10 * Math.log10((hi - lo) ** 2 / (mse / b.length));
}

function check(what: string, value: number, floor: number, digits = 3, unit = ""): void {
  rows.push({
    what,
    value: `${value.toFixed(digits)}${unit}`,
    floor: `≤ ${floor}`,
    pass: value <= floor,
  });
}

function note(what: string, value: string): void {
  rows.push({ what, value });
}

async function benchGpt2(): Promise<void> {
  const small = preset(gpt2, "small");
  const build = () => gpt2.build(small, { seed: 1 });
  const fp32Bytes = encodeModel(only(build()));
  const feeds = prefillFeeds(128, small.vocab);
  const standard = await timedPass(dynamicInt8Pass, build(), {});
  const standardBytes = encodeModel(only(standard.result.bundle));
  const contrib = await timedPass(dynamicInt8Pass, build(), { format: "contrib" });
  const contribBytes = encodeModel(only(contrib.result.bundle));
  const sessions = [
    await createSession(fp32Bytes),
    await createSession(standardBytes),
    await createSession(contribBytes),
  ];
  const [fp32Ms, standardMs, contribMs] = await latencies(sessions, feeds);
  const reference = await output(sessions[0]!, feeds, "logits");
  const quantized = await output(sessions[1]!, feeds, "logits");
  note(
    "gpt2 small fp32 prefill 1×128",
    `${fp32Ms!.toFixed(1)} ms, ${(fp32Bytes.length / 1e6).toFixed(1)} MB`,
  );
  check("dynamic-int8 latency ratio (standard pattern, ORT-fused)", standardMs! / fp32Ms!, 0.6);
  note(
    "dynamic-int8 latency ratio (contrib DynamicQuantizeMatMul emitted)",
    (contribMs! / fp32Ms!).toFixed(3),
  );
  check("dynamic-int8 size ratio", standardBytes.length / fp32Bytes.length, 0.3);
  check("dynamic-int8 logits relative L2", relativeL2(quantized, reference), 0.05, 4);
  note(
    "dynamic-int8 pass time / process peak RSS",
    `${standard.seconds.toFixed(1)} s / ${standard.peakMb.toFixed(0)} MB`,
  );
  for (const s of sessions) await s.release();
}

function unetRecord(seed: number, size: number, contextDim: number): DataRecord {
  const rng = new SeededRandom(seed);
  return {
    sample: Tensor.fromArray(DataType.FLOAT, [1, 4, size, size], rng.normals(4 * size * size)),
    timestep: Tensor.fromArray(DataType.FLOAT, [1], [999 - ((seed * 97) % 1000)]),
    encoder_hidden_states: Tensor.fromArray(
      DataType.FLOAT,
      [1, 77, contextDim],
      rng.normals(77 * contextDim),
    ),
  };
}

async function benchUnet(): Promise<void> {
  const config = preset(unet, UNET_PRESET);
  const build = () => unet.build(config, { seed: 1 });
  const size = config.sampleSize;
  const fp32Bytes = encodeModel(only(build()));
  const calibration = Array.from({ length: 4 }, (_, i) =>
    unetRecord(100 + i, size, config.contextDim),
  );
  const quantized = await timedPass(
    staticInt8Pass,
    build(),
    { calibration: "calib", batchSize: 2 },
    { calib: calibration },
  );
  const int8Bytes = encodeModel(only(quantized.result.bundle));
  const withElementwise = await timedPass(
    staticInt8Pass,
    build(),
    {
      calibration: "calib",
      batchSize: 2,
      opTypes: ["Conv", "MatMul", "Gemm", "Add", "Mul", "Concat"],
    },
    { calib: calibration },
  );
  const elementwiseBytes = encodeModel(only(withElementwise.result.bundle));
  const held = unetRecord(7, size, config.contextDim);
  const feeds: Feeds = {};
  for (const [name, t] of Object.entries(held))
    feeds[name] = new ort.Tensor("float32", t.toArray() as Float32Array, [...t.dims]);
  const sessions = [
    await createSession(fp32Bytes),
    await createSession(int8Bytes),
    await createSession(elementwiseBytes),
  ];
  const [fp32Ms, int8Ms, elementwiseMs] = await latencies(sessions, feeds);
  const reference = await output(sessions[0]!, feeds, "out_sample");
  const out = await output(sessions[1]!, feeds, "out_sample");
  const elementwiseOut = await output(sessions[2]!, feeds, "out_sample");
  note(
    `unet ${UNET_PRESET} fp32 1×4×${size}×${size}`,
    `${fp32Ms!.toFixed(1)} ms, ${(fp32Bytes.length / 1e6).toFixed(1)} MB`,
  );
  check("static-int8 latency ratio", int8Ms! / fp32Ms!, 0.8);
  note(
    "static-int8 with Add/Mul/Concat in QDQ too: latency ratio / PSNR",
    `${(elementwiseMs! / fp32Ms!).toFixed(3)} / ${psnr(elementwiseOut, reference).toFixed(2)} dB`,
  );
  note("static-int8 size ratio", (int8Bytes.length / fp32Bytes.length).toFixed(3));
  note("static-int8 output PSNR vs fp32", `${psnr(out, reference).toFixed(2)} dB`);
  note(
    "static-int8 pass time (4 calibration samples) / process peak RSS",
    `${quantized.seconds.toFixed(1)} s / ${quantized.peakMb.toFixed(0)} MB`,
  );
  for (const s of sessions) await s.release();
}

await benchGpt2();
await benchUnet();
console.log(
  `\nint8 benchmark (ORT ${ort.env.versions.common}, threads ${THREADS || "ORT default"}, ${REPEATS} repeats, medians)\n`,
);
console.log("| measurement | value | floor | |");
console.log("|---|---|---|---|");
for (const r of rows)
  console.log(
    `| ${r.what} | ${r.value} | ${r.floor ?? ""} | ${r.pass === undefined ? "" : r.pass ? "PASS" : "FAIL"} |`,
  );
process.exitCode = rows.some((r) => r.pass === false) ? 1 : 0;
