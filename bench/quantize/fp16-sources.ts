/**
 * Where the PP-OCRv4 recognizer's fp16 error comes from, measured on the decisions fp16 changes:
 * every evaluation frame whose best class differs between fp32 and `quantize/fp16` is scored by
 * fp32's margin there (log p(fp32's best) − log p(its runner-up)), under
 *
 * - the fp16 pass;
 * - the fp32 model with only its weights rounded to fp16 values (types unchanged), all of them
 *   or those read by one op type;
 * - the fp32 model with only its activations rounded (a Cast to fp16 and back after every float
 *   output);
 * - `mixed` (automatic mixed precision, calibrated on the calibration split) at each
 *   `BENCH_MAX_ERRORS` (default 1e-3,5e-4,2.5e-4): layers kept fp32, size, task result.
 *
 *   pnpm bench:quantize:fp16-sources
 */
import {
  attr,
  createCpuSessions,
  DataType,
  encodeModel,
  float16BitsToFloat32,
  float32ToFloat16Bits,
  inferTypes,
  loadModel,
  type Model,
  Node,
  type PassDefinition,
  runPassStandalone,
  singleModelBundle,
  Tensor,
} from "@lathe/core";
import { floatValues } from "@lathe/core/testing";
import quantize from "@lathe/plugin-quantize";
import * as ort from "onnxruntime-node";
import { ocrModel, taskData } from "../../test/models/real-models.js";
import {
  batches,
  ocrAlphabet,
  openSession,
  readTextLines,
  recognize,
} from "../../test/models/tasks.js";

const found = ocrModel();
const data = taskData("text");
if (typeof found === "string" || typeof data === "string") {
  console.log(`skipped: ${typeof found === "string" ? found : data}`);
  process.exit(0);
}
const model = found;
const alphabet = ocrAlphabet(model);
const evaluation = await readTextLines(data.folder, "evaluation");
const calibration = batches((await readTextLines(data.folder, "calibration")).images, "x", 4);
const fp16Pass = quantize.passes!.find((p) => p.id === "quantize/fp16") as PassDefinition;

async function convert(options: Record<string, unknown>) {
  const { result } = await runPassStandalone(
    fp16Pass,
    singleModelBundle(await loadModel(model.path)),
    { options, data: { calibration }, sessions: createCpuSessions({ threads: 1 }) },
  );
  return { bytes: encodeModel(result.bundle.components.values().next().value!), result };
}

/** Class scores of every evaluation line, [lines][steps × classes]. */
async function scores(bytes: Uint8Array | string): Promise<{ p: Float32Array[]; dims: number[] }> {
  const session = await openSession(bytes);
  const p: Float32Array[] = [];
  let dims: number[] = [];
  for (const record of batches(evaluation.images, "x", 8)) {
    const x = record.x!;
    const feeds = { x: new ort.Tensor("float32", x.toArray() as Float32Array, [...x.dims]) };
    const out = (await session.run(feeds))[session.outputNames[0]!]!;
    dims = out.dims as number[];
    const all = Float32Array.from(floatValues(out));
    const per = dims[1]! * dims[2]!;
    for (let r = 0; r < dims[0]!; r++) p.push(all.slice(r * per, (r + 1) * per));
  }
  await session.release();
  return { p, dims };
}

const best = (row: Float32Array, at: number, classes: number) => {
  let b = 0;
  for (let c = 1; c < classes; c++) if (row[at + c]! > row[at + b]!) b = c;
  return b;
};

const reference = await scores(model.path);
const [, steps, classes] = reference.dims as [number, number, number];
const whole = await convert({});
const fp16 = await scores(whole.bytes);
/** The frames fp16 decides differently, with fp32's best class and runner-up there. */
const flipped: { line: number; step: number; top: number; second: number }[] = [];
reference.p.forEach((row, line) => {
  for (let t = 0; t < steps; t++) {
    const at = t * classes;
    const top = best(row, at, classes);
    if (best(fp16.p[line]!, at, classes) === top) continue;
    let second = top === 0 ? 1 : 0;
    for (let c = 0; c < classes; c++) if (c !== top && row[at + c]! > row[at + second]!) second = c;
    flipped.push({ line, step: t, top, second });
  }
});
const symbol = (c: number) => JSON.stringify(alphabet.symbols[c]);
const margins = (s: { p: Float32Array[] }) =>
  flipped
    .map(({ line, step, top, second }) => {
      const row = s.p[line]!;
      return Math.log(row[step * classes + top]! / row[step * classes + second]!).toFixed(4);
    })
    .join(", ");
console.log(
  `frames fp16 decides differently: ${flipped
    .map(
      (f) =>
        `line ${f.line} "${evaluation.truth[f.line]}" step ${f.step} (${symbol(f.top)} over ${symbol(f.second)})`,
    )
    .join("; ")}`,
);
console.log("\n| model | fp32's margin there (log p₁/p₂; < 0: flipped) |\n|---|---|");
console.log(`| fp32 | ${margins(reference)} |`);
console.log(`| quantize/fp16 | ${margins(fp16)} |`);

const round16 = (v: number) => float16BitsToFloat32(float32ToFloat16Bits(v));
/** The fp32 model with the float Constant weights its chosen readers read rounded to fp16. */
async function weightsRounded(readers: (node: Node) => boolean): Promise<Uint8Array> {
  const m = await loadModel(model.path);
  for (const node of m.graph) {
    const value = node.attribute("value")?.value;
    if (node.opType !== "Constant" || !(value instanceof Tensor)) continue;
    if (value.dataType !== DataType.FLOAT) continue;
    if (!node.output.uses().some((u) => readers(u.node))) continue;
    const rounded = Float32Array.from(value.toArray() as Float32Array, round16);
    node.setAttribute(attr.tensor("value", Tensor.fromArray(DataType.FLOAT, value.dims, rounded)));
  }
  return encodeModel(m);
}
/** The fp32 model with every float activation rounded to fp16 (a Cast there and back). */
async function activationsRounded(): Promise<Uint8Array> {
  const m: Model = await loadModel(model.path);
  const types = inferTypes(m).types;
  for (const node of [...m.graph]) {
    if (node.opType === "Constant") continue;
    for (const out of node.outputs) {
      const type = types.get(out);
      if (type?.kind !== "tensor" || type.elemType !== DataType.FLOAT) continue;
      const uses = [...out.uses()];
      const down = new Node({
        opType: "Cast",
        inputs: [out],
        outputs: [`${out.name}_to_fp16`],
        attributes: { to: DataType.FLOAT16 },
      });
      const up = new Node({
        opType: "Cast",
        inputs: [down.output],
        outputs: [`${out.name}_back`],
        attributes: { to: DataType.FLOAT },
      });
      m.graph.insertAfter(node, down, up);
      for (const u of uses) u.node.setInput(u.index, up.output);
    }
  }
  return encodeModel(m);
}
console.log(
  `| fp32, every weight rounded to fp16 | ${margins(await scores(await weightsRounded(() => true)))} |`,
);
for (const op of ["Conv", "Add", "Mul", "MatMul", "BatchNormalization"])
  console.log(
    `| fp32, the weights ${op} reads rounded | ${margins(await scores(await weightsRounded((n) => n.opType === op)))} |`,
  );
console.log(
  `| fp32, every activation rounded to fp16 | ${margins(await scores(await activationsRounded()))} |`,
);

const maxErrors = (process.env.BENCH_MAX_ERRORS ?? "1e-3,5e-4,2.5e-4").split(",").map(Number);
const fp32Bytes = encodeModel(await loadModel(model.path)).length;
console.log(
  "\n| variant | layers kept fp32 | error on calibration (rel. L2) | size / fp32 | evaluation | margin there | s |\n|---|---|---|---|---|---|---|",
);
const task = async (bytes: Uint8Array) => {
  const session = await openSession(bytes);
  const r = await recognize(session, evaluation, alphabet);
  await session.release();
  return `CER ${r.cer.toFixed(4)}, exact ${Math.round(r.exact * r.count)}/${r.count}`;
};
console.log(
  `| fp16 | 0 | ${whole.result.statistics?.["mixed: error all fp16 (rel. L2 of softmax_11.tmp_0)"] ?? ""} | ${(whole.bytes.length / fp32Bytes).toFixed(3)} | ${await task(whole.bytes)} | ${margins(fp16)} | |`,
);
for (const maxError of maxErrors) {
  const start = performance.now();
  const { bytes, result } = await convert({ mixed: { calibration: "calibration", maxError } });
  const s = result.statistics ?? {};
  const stat = (prefix: string) => Object.entries(s).find(([k]) => k.startsWith(prefix))?.[1];
  console.log(
    `| mixed, maxError ${maxError} | ${s["mixed: layers kept fp32"]} | ${stat("mixed: error (")} (all fp16 ${stat("mixed: error all fp16")}) | ${(bytes.length / fp32Bytes).toFixed(3)} | ${await task(bytes)} | ${margins(await scores(bytes))} | ${((performance.now() - start) / 1000).toFixed(0)} |`,
  );
}
