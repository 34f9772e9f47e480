/**
 * Where the structured floors' bounds lie (issue 17): the same models as `structured.ts`
 * (zoo gpt2 at GPT-2-small size, 30 % of MLP channels and 25 % of heads removed; the KV-cache
 * export pruned the same way, then weight-only int4), measured part by part.
 *
 * - size: parameters by role (embedding tables read by Gather, the rest), fp32 and structured;
 *   what the rest would have to fall to for size ≤ 0.8 with the tied embedding untouched; the
 *   weight bytes a decode step reads by role (the LM head, embedding-only tables, the rest).
 * - prefill: multiply-adds of one 1 × 128 prefill by role (block layers, attention scores, the
 *   LM head), and latencies of the fp32 and structured models with and without their LM head
 *   (the head's MatMul removed, the final norm's output returned), interleaved.
 * - decode: the decode step (past 128) of fp32, structured + int4 (8-bit embedding/LM head, the
 *   default), the same with the head at 4 bits, and fp32 and structured + int4 with attention
 *   fused first (flash-attention/rewrite), interleaved; ORT's profiler on the steps: weight
 *   products against every other op, time by op type, the costliest nodes, the LM head's and the
 *   embedding's share.
 * - head: the LM head's product alone in each form ORT 1.30 has for it (MatMulNBits 8-bit at
 *   accuracy levels 4 and 0, 4-bit, float32 MatMul).
 *
 * The pruned models are cached in os.tmpdir() (BENCH_CACHE=0 rebuilds them) so that a quiet
 * window is spent on timing only.
 *
 *   pnpm bench:prune:bounds   # BENCH_GPT2 (small|tiny), BENCH_OUTLIERS (6), BENCH_REPEATS (9),
 *                             # BENCH_THREADS (2), BENCH_PROFILE_RUNS (30),
 *                             # BENCH_PARTS (size,prefill,decode,head)
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createBuilder,
  createPassRandom,
  DataType,
  decodeModel,
  encodeModel,
  type Model,
  type NodeProfile,
  profileModel,
  removeDeadCode,
  removeUnusedInitializers,
  type Tensor,
  type TensorType,
} from "@lathe/core";
import { gpt2 } from "@lathe/plugin-zoo";
import * as ort from "onnxruntime-node";
import { flashAttentionRewrite } from "../../packages/plugins/flash-attention/src/pass.js";
import { structuredPass } from "../../packages/plugins/prune/src/index.js";
import { generateTokenRecords } from "../../packages/plugins/quantize/src/weight-only/calibration.js";
import { weightOnlyPass } from "../../packages/plugins/quantize/src/weight-only/weight-only.js";
import { decodeFeeds, interleaved, log, runPass, session, toOrt } from "./shared.js";

const PRESET = process.env.BENCH_GPT2 ?? "small";
const OUTLIERS = Number(process.env.BENCH_OUTLIERS ?? 6);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 9);
const THREADS = Number(process.env.BENCH_THREADS ?? 2);
const PROFILE_RUNS = Number(process.env.BENCH_PROFILE_RUNS ?? 30);
const PARTS = new Set((process.env.BENCH_PARTS ?? "size,prefill,decode,head").split(","));
const CACHE = (process.env.BENCH_CACHE ?? "1") !== "0";
const SEQUENCE = 128;
const STRUCTURED = { heads: 0.25, channels: 0.3, criterion: "flap" as const, multipleOf: 8 };

const preset = gpt2.presets[PRESET];
if (!preset) throw new Error(`zoo gpt2 has no preset "${PRESET}"`);
const config = { ...preset, outliers: OUTLIERS };
const PAST = Math.min(128, config.positions - 1);
const folder = join(tmpdir(), "lathe-bench-prune-bounds", `${PRESET}-${OUTLIERS}`);
mkdirSync(folder, { recursive: true });

/** The model in `name`, made by `make` unless cached. */
async function cached(name: string, make: () => Promise<Uint8Array>): Promise<Uint8Array> {
  const file = join(folder, `${name}.onnx`);
  if (CACHE && existsSync(file)) return readFileSync(file);
  log(`${name} …`);
  const bytes = await make();
  writeFileSync(file, bytes);
  return bytes;
}

const build = (kvCache: boolean) =>
  encodeModel(gpt2.build({ ...config, kvCache }, { seed: 1 }).components.get("model") as Model);
const fp32 = await cached("fp32", async () => build(false));
const fp32Cache = await cached("fp32-cache", async () => build(true));
// The same pruning as structured.ts: FLAP on 8 calibration sequences; the cache export by magnitude.
const structured = await cached("structured", async () => {
  const calibration = generateTokenRecords(
    decodeModel(fp32),
    8,
    SEQUENCE,
    createPassRandom(1, "calibration", ""),
    1,
  );
  const options = { ...STRUCTURED, data: "calibration", samples: 8 };
  return (await runPass(fp32, structuredPass, options, calibration)).bytes;
});
const int4 = await cached("structured-int4-cache", async () => {
  const pruned = await runPass(
    fp32Cache,
    structuredPass,
    { ...STRUCTURED, criterion: "magnitude" },
    [],
  );
  const options = { bits: 4, blockSize: 32, accuracyLevel: 4 };
  return (await runPass(pruned.bytes, weightOnlyPass, options, [])).bytes;
});
// What the 8-bit LM head costs: the same model with the head (and embeddings) at 4 bits.
const int4Head4 = await cached("structured-int4-head4-cache", async () => {
  const pruned = await runPass(
    fp32Cache,
    structuredPass,
    { ...STRUCTURED, criterion: "magnitude" },
    [],
  );
  const options = { bits: 4, headBits: 4, blockSize: 32, accuracyLevel: 4 };
  return (await runPass(pruned.bytes, weightOnlyPass, options, [])).bytes;
});
// How much of a decode step the unfused attention's small ops take: the same models with
// attention fused (flash-attention/rewrite: MultiHeadAttention over the cache on the CPU).
const fp32Fused = await cached("fp32-fused-cache", async () => {
  return (await runPass(fp32Cache, flashAttentionRewrite, {}, [])).bytes;
});
const int4Fused = await cached("structured-fused-int4-cache", async () => {
  const pruned = await runPass(
    fp32Cache,
    structuredPass,
    { ...STRUCTURED, criterion: "magnitude" },
    [],
  );
  const fused = await runPass(pruned.bytes, flashAttentionRewrite, {}, []);
  const options = { bits: 4, blockSize: 32, accuracyLevel: 4 };
  return (await runPass(fused.bytes, weightOnlyPass, options, [])).bytes;
});
log(`models in ${folder}`);

const HEAD = "/lm_head/MatMul";
const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const m = (x: number) => `${(x / 1e6).toFixed(2)} M`;

// ---------------------------------------------------------------------------------------------
// size: parameters by role

interface Parameters {
  total: number;
  embedding: number;
  rest: number;
}

function parameters(model: Model): Parameters {
  const tables = new Set<string>();
  for (const node of model.graph.allNodes())
    if (node.opType === "Gather" && node.inputs[0]?.constValue) tables.add(node.inputs[0].name);
  let total = 0;
  let embedding = 0;
  for (const [name, value] of model.graph.initializers) {
    const t = value.constValue as Tensor | undefined;
    if (!t || t.dataType !== DataType.FLOAT) continue;
    total += t.elementCount;
    if (tables.has(name)) embedding += t.elementCount;
  }
  return { total, embedding, rest: total - embedding };
}

if (PARTS.has("size")) {
  const a = parameters(decodeModel(fp32));
  const b = parameters(decodeModel(structured));
  const restNeeded = 0.8 * a.total - b.embedding;
  console.log("\n### size: parameters by role (float32 initializers)\n");
  console.log("| model | total | embedding tables (wte, wpe) | rest (blocks, norms) | file MB |");
  console.log("|---|---|---|---|---|");
  console.log(
    `| fp32 | ${m(a.total)} | ${m(a.embedding)} (${pct(a.embedding / a.total)}) | ${m(a.rest)} | ${(fp32.length / 2 ** 20).toFixed(1)} |`,
  );
  console.log(
    `| structured | ${m(b.total)} (${(b.total / a.total).toFixed(3)}×) | ${m(b.embedding)} | ${m(b.rest)} (${(b.rest / a.rest).toFixed(3)}× of fp32's rest) | ${(structured.length / 2 ** 20).toFixed(1)} (${(structured.length / fp32.length).toFixed(3)}×) |`,
  );
  console.log(
    `\nsize ≤ 0.8× with the embedding untouched needs the rest ≤ ${m(restNeeded)} = ${(restNeeded / a.rest).toFixed(3)}× of fp32's (${pct(1 - restNeeded / a.rest)} of the block parameters removed; 30 % of MLP channels + 25 % of heads remove ${pct(1 - b.rest / a.rest)}); with every block removed the size would be ${(a.embedding / a.total).toFixed(3)}×`,
  );
}

// ---------------------------------------------------------------------------------------------
// prefill: multiply-adds by role, and latencies with and without the LM head

/** Multiply-adds of one prefill of `tokens` tokens by role, from the weights' shapes. */
function prefillMacs(model: Model, tokens: number) {
  let layers = 0;
  let head = 0;
  let attentionWidth = 0;
  for (const node of model.graph.allNodes()) {
    if (node.opType !== "MatMul" && node.opType !== "Gemm") continue;
    const b = node.inputs[1];
    const producer = b?.producer();
    const source = producer?.opType === "Transpose" ? producer.inputs[0] : b;
    const weight = source?.constValue as Tensor | undefined;
    if (!weight) continue;
    if (node.name === HEAD) head += weight.elementCount * tokens;
    else layers += weight.elementCount * tokens;
    // Fused QKV: [d, 3·heads·64]; its width / 3 is the block's attention width.
    if (source?.name.includes("c_attn")) attentionWidth += (weight.dims[1] as number) / 3;
  }
  // Scores QKᵀ and the weighted sum PV, every position against every key (the mask applied after).
  const attention = 2 * tokens * tokens * attentionWidth;
  return { layers, attention, head, total: layers + attention + head };
}

/** The model without its LM head: the head's input (the final norm's output) becomes the output. */
function headless(bytes: Uint8Array): Uint8Array {
  const model = decodeModel(bytes);
  const head = [...model.graph.allNodes()].find((n) => n.name === HEAD);
  if (!head) throw new Error(`no ${HEAD} node`);
  const hidden = head.inputs[0];
  if (!hidden) throw new Error(`${HEAD} has no input`);
  const logits = model.graph.outputs.indexOf(head.output);
  model.graph.outputs[logits] = hidden;
  removeDeadCode(model.graph);
  removeUnusedInitializers(model.graph);
  return encodeModel(model);
}

if (PARTS.has("prefill")) {
  const a = prefillMacs(decodeModel(fp32), SEQUENCE);
  const b = prefillMacs(decodeModel(structured), SEQUENCE);
  console.log(`\n### prefill 1 × ${SEQUENCE}: multiply-adds by role\n`);
  console.log("| model | block layers | attention scores | LM head | total |");
  console.log("|---|---|---|---|---|");
  const row = (name: string, x: typeof a) =>
    `| ${name} | ${(x.layers / 1e9).toFixed(2)} G | ${(x.attention / 1e9).toFixed(2)} G | ${(x.head / 1e9).toFixed(2)} G | ${(x.total / 1e9).toFixed(2)} G (${(x.total / a.total).toFixed(3)}×) |`;
  console.log(row("fp32", a));
  console.log(row("structured", b));
  console.log(
    `\nwithout the head: ${((b.total - b.head) / (a.total - a.head)).toFixed(3)}×; the head is ${pct(a.head / a.total)} of fp32's multiply-adds`,
  );

  const models = [fp32, structured, headless(fp32), headless(structured)];
  const sessions = await Promise.all(models.map((bytes) => session(bytes, THREADS)));
  const record = generateTokenRecords(
    decodeModel(fp32),
    1,
    SEQUENCE,
    createPassRandom(2, "evaluation", ""),
    1,
  )[0];
  if (!record) throw new Error("no evaluation record");
  const feeds = toOrt(record);
  log("prefill latency …");
  const [t32, tPruned, t32Headless, tPrunedHeadless] = (await interleaved(
    sessions.map((s) => ({ session: s, feeds })),
    REPEATS,
  )) as [number, number, number, number];
  await Promise.all(sessions.map((s) => s.release()));
  console.log(`\nprefill latency, medians of ${REPEATS} interleaved rounds, ${THREADS} threads:\n`);
  console.log("| model | with the LM head ms | without ms | the head ms |");
  console.log("|---|---|---|---|");
  console.log(
    `| fp32 | ${t32.toFixed(1)} | ${t32Headless.toFixed(1)} | ${(t32 - t32Headless).toFixed(1)} |`,
  );
  console.log(
    `| structured | ${tPruned.toFixed(1)} (${(tPruned / t32).toFixed(3)}×) | ${tPrunedHeadless.toFixed(1)} (${(tPrunedHeadless / t32Headless).toFixed(3)}× of fp32's) | ${(tPruned - tPrunedHeadless).toFixed(1)} |`,
  );
  console.log(
    `\nthe head's ${(t32 - t32Headless).toFixed(1)} ms alone is ${pct((t32 - t32Headless) / t32)} of fp32's prefill; if everything else vanished the ratio would be ${((t32 - t32Headless) / t32).toFixed(3)}×`,
  );
}

// ---------------------------------------------------------------------------------------------
// decode: where one step's time goes

function decodeShapes(model: Model): Record<string, number[]> {
  const shapes: Record<string, number[]> = {};
  for (const input of model.graph.inputs) {
    const dims = ((input.type as TensorType).shape?.dims ?? []).map((d) =>
      typeof d === "number"
        ? d
        : d === "past_sequence_length"
          ? PAST
          : d === "past_sequence_length + 1"
            ? PAST + 1
            : 1,
    );
    shapes[input.name] = dims;
  }
  return shapes;
}

async function decodeProfile(name: string, bytes: Uint8Array): Promise<void> {
  const model = decodeModel(bytes);
  const result = await profileModel(model, {
    target: { providers: ["cpu"], threads: THREADS, shapes: decodeShapes(model) },
    runs: PROFILE_RUNS,
    warmup: 3,
    graphOptimizationLevel: "all",
  });
  const { summary } = result;
  const ms = (us: number) => (us / 1000 / summary.runs).toFixed(3);
  console.log(
    `\n#### ${name}: ${ms(summary.runUs)} ms per step (profiled, ${summary.runs} runs), nodes ${ms(summary.kernelUs)} ms\n`,
  );
  const products = new Set(["MatMul", "Gemm", "MatMulNBits", "FusedMatMul", "FusedGemm"]);
  const productUs = summary.ops
    .filter((op) => products.has(op.opType))
    .reduce((t, op) => t + op.totalUs, 0);
  const headUs = summary.nodes
    .filter((n) => n.node.startsWith("/lm_head/"))
    .reduce((t, n) => t + n.totalUs, 0);
  console.log(
    `weight products ${ms(productUs)} ms (the LM head ${ms(headUs)} ms), every other op ${ms(summary.kernelUs - productUs)} ms (${summary.nodes.length} nodes)\n`,
  );
  console.log("| op type | nodes | ms per step | share |\n|---|---|---|---|");
  for (const op of summary.ops.slice(0, 8))
    console.log(`| ${op.opType} | ${op.nodes} | ${ms(op.totalUs)} | ${pct(op.share)} |`);
  const describe = (n: NodeProfile) =>
    `| ${n.node} | ${n.opType} | ${ms(n.totalUs)} | ${pct(n.share)} |`;
  console.log("\n| node | op | ms per step | share |\n|---|---|---|---|");
  for (const n of summary.nodes.slice(0, 6)) console.log(describe(n));
  const head = summary.nodes.filter((n) => n.node.startsWith("/lm_head"));
  const embedding = summary.nodes.filter(
    (n) => n.node.includes("wte") || n.node.includes("/Gather_Q"),
  );
  for (const n of [...head, ...embedding])
    if (!summary.nodes.slice(0, 6).includes(n)) console.log(describe(n));
}

/** Initializer bytes of a quantized model by role: the LM head's product, embedding-only tables, the rest. */
function bytesByRole(model: Model): { head: number; embedding: number; rest: number } {
  const role = new Map<string, "head" | "embedding">();
  for (const node of model.graph.allNodes()) {
    for (const input of node.inputs.slice(1)) {
      // fp32's head reads the tied table through a Transpose; the table is counted as the head's.
      const producer = input?.producer();
      const source = producer?.opType === "Transpose" ? producer.inputs[0] : input;
      if (!source?.constValue) continue;
      if (node.name.startsWith("/lm_head/")) role.set(source.name, "head");
      if (!input?.constValue) continue;
      if (node.opType.startsWith("Gather") && !role.has(input.name))
        role.set(input.name, "embedding");
    }
    if (node.opType === "Gather" && node.inputs[0]?.constValue)
      role.set(node.inputs[0].name, "embedding");
  }
  const out = { head: 0, embedding: 0, rest: 0 };
  for (const [name, value] of model.graph.initializers) {
    const t = value.constValue as Tensor | undefined;
    if (t) out[role.get(name) ?? "rest"] += t.bytes().length;
  }
  return out;
}

if (PARTS.has("size")) {
  console.log(`\n### decode step: weight bytes by role\n`);
  console.log(
    "| model | LM head's product (tied table included) | embedding-only tables | the rest | total MB |\n|---|---|---|---|---|",
  );
  for (const [name, bytes] of [
    ["fp32", fp32Cache],
    ["structured + int4", int4],
    ["structured + int4, head at 4 bits", int4Head4],
  ] as const) {
    const r = bytesByRole(decodeModel(bytes));
    const total = r.head + r.embedding + r.rest;
    const mb = (x: number) => `${(x / 2 ** 20).toFixed(1)} MB (${pct(x / total)})`;
    console.log(
      `| ${name} | ${mb(r.head)} | ${mb(r.embedding)} | ${mb(r.rest)} | ${(total / 2 ** 20).toFixed(1)} |`,
    );
  }
}

if (PARTS.has("decode")) {
  log("decode latency …");
  const models = [fp32Cache, int4, int4Head4, fp32Fused, int4Fused];
  const sessions = await Promise.all(models.map((bytes) => session(bytes, THREADS)));
  const [d32, dInt4, dHead4, d32Fused, dInt4Fused] = (await interleaved(
    sessions.map((s, i) => ({
      session: s,
      feeds: decodeFeeds(decodeModel(models[i] as Uint8Array), PAST),
    })),
    REPEATS,
  )) as [number, number, number, number, number];
  await Promise.all(sessions.map((s) => s.release()));
  console.log(
    `\n### decode step (past ${PAST}), medians of ${REPEATS} interleaved rounds, ${THREADS} threads\n`,
  );
  console.log("| model | size MB | decode ms | vs fp32 |\n|---|---|---|---|");
  const size = (b: Uint8Array) => (b.length / 2 ** 20).toFixed(1);
  const row = (name: string, bytes: Uint8Array, ms: number) =>
    console.log(`| ${name} | ${size(bytes)} | ${ms.toFixed(2)} | ${(ms / d32).toFixed(3)}× |`);
  row("fp32", fp32Cache, d32);
  row("structured + int4 (embedding/LM head 8-bit, the default)", int4, dInt4);
  row("structured + int4, embedding/LM head at 4 bits too", int4Head4, dHead4);
  row("fp32, attention fused (flash-attention/rewrite)", fp32Fused, d32Fused);
  row("structured + attention fused + int4", int4Fused, dInt4Fused);
  log("decode profiles …");
  console.log(`\n### decode step (past ${PAST}): ORT profile, ${THREADS} threads`);
  await decodeProfile("fp32", fp32Cache);
  await decodeProfile("structured + int4", int4);
  await decodeProfile("structured + attention fused + int4", int4Fused);
}

// ---------------------------------------------------------------------------------------------
// head: the LM head's product alone (1 × 768 by 768 × 50257) in each form ORT 1.30 runs

/** One com.microsoft MatMulNBits of [k, n] weights; the values do not change its speed. */
function nbitsModel(k: number, n: number, bits: 4 | 8, accuracyLevel: number, zeroPoints = true) {
  const block = 32;
  const blocks = Math.ceil(k / block);
  const b = createBuilder({ opset: 17 });
  const x = b.input("x", DataType.FLOAT, [1, 1, k]);
  const bytes = (count: number) => Uint8Array.from({ length: count }, (_, i) => (i * 151) & 255);
  const blob = (block * bits) / 8;
  const zeroBytes = bits === 8 ? blocks : Math.ceil(blocks / 2);
  const inputs = [
    x,
    b.constant(bytes(n * blocks * blob), [n, blocks, blob], DataType.UINT8, "q"),
    b.constant(new Float32Array(n * blocks).fill(0.01), [n * blocks], DataType.FLOAT, "scales"),
  ];
  if (zeroPoints)
    inputs.push(b.constant(bytes(n * zeroBytes), [n * zeroBytes], DataType.UINT8, "zero_points"));
  const attributes = { K: k, N: n, bits, block_size: block, accuracy_level: accuracyLevel };
  b.output(b.domain("com.microsoft").MatMulNBits(...inputs, attributes), "y");
  return encodeModel(b.build());
}

/**
 * An exact re-expression of a symmetric 8-bit block weight s·(q − 128) with q = 16·hi + lo:
 * 16s·(hi − 8) + s·(lo − 8) + 8s, i.e. two symmetric 4-bit products and 8s times each block's
 * sum of x (a [blocks, n] float product). Built for its speed only (the values are synthetic).
 */
function nibbleSplitModel(k: number, n: number): Uint8Array {
  const block = 32;
  const blocks = Math.ceil(k / block);
  const b = createBuilder({ opset: 17 });
  const x = b.input("x", DataType.FLOAT, [1, 1, k]);
  const bytes = (count: number) => Uint8Array.from({ length: count }, (_, i) => (i * 151) & 255);
  const half = (name: string, scale: number) =>
    b
      .domain("com.microsoft")
      .MatMulNBits(
        x,
        b.constant(bytes(n * blocks * 16), [n, blocks, 16], DataType.UINT8, `q_${name}`),
        b.constant(
          new Float32Array(n * blocks).fill(scale),
          [n * blocks],
          DataType.FLOAT,
          `s_${name}`,
        ),
        { K: k, N: n, bits: 4, block_size: block, accuracy_level: 4 },
      );
  const sums = b.ReduceSum(
    b.Reshape(
      x,
      b.constant(
        BigInt64Array.from([1n, 1n, BigInt(blocks), BigInt(block)]),
        [4],
        DataType.INT64,
        "blocked",
      ),
    ),
    b.constant(BigInt64Array.from([3n]), [1], DataType.INT64, "axis"),
    { keepdims: 0 },
  );
  const correction = b.MatMul(
    sums,
    b.constant(new Float32Array(blocks * n).fill(0.08), [blocks, n], DataType.FLOAT, "c"),
  );
  b.output(b.Add(b.Add(half("hi", 0.16), half("lo", 0.01)), correction), "y");
  return encodeModel(b.build());
}

/** Median latencies of one-product models on a [1, 1, k] input, interleaved. */
async function productTimes(k: number, forms: readonly [string, Uint8Array][]): Promise<number[]> {
  const sessions = await Promise.all(forms.map(([, bytes]) => session(bytes, THREADS)));
  const x = new ort.Tensor(
    "float32",
    Float32Array.from({ length: k }, (_, i) => Math.sin(i)),
    [1, 1, k],
  );
  const times = await interleaved(
    sessions.map((s) => ({ session: s, feeds: { x } })),
    REPEATS,
  );
  await Promise.all(sessions.map((s) => s.release()));
  return times;
}

if (PARTS.has("head")) {
  const [k, n] = [config.hidden, config.vocab];
  const fp32Head = createBuilder({ opset: 17 });
  const hx = fp32Head.input("x", DataType.FLOAT, [1, 1, k]);
  const w = fp32Head.constant(new Float32Array(k * n).fill(1e-3), [k, n], DataType.FLOAT, "w");
  fp32Head.output(fp32Head.MatMul(hx, w), "y");
  const forms: [string, Uint8Array][] = [
    [
      "MatMulNBits bits 8, accuracy_level 4, symmetric (the default head)",
      nbitsModel(k, n, 8, 4, false),
    ],
    ["MatMulNBits bits 8, accuracy_level 4, zero points", nbitsModel(k, n, 8, 4)],
    [
      "MatMulNBits bits 8, accuracy_level 0 (float compute), symmetric",
      nbitsModel(k, n, 8, 0, false),
    ],
    [
      "the same 8-bit weights as two 4-bit MatMulNBits (high and low nibbles) + block-sum correction",
      nibbleSplitModel(k, n),
    ],
    [
      "MatMulNBits bits 4, accuracy_level 4, symmetric (headBits: 4)",
      nbitsModel(k, n, 4, 4, false),
    ],
    ["MatMulNBits bits 4, accuracy_level 4, zero points", nbitsModel(k, n, 4, 4)],
    ["MatMul float32", encodeModel(fp32Head.build())],
  ];
  log("head forms …");
  const times = await productTimes(k, forms);
  console.log(
    `\n### the LM head alone (1 × ${k} · ${k} × ${n}), medians of ${REPEATS} interleaved rounds\n`,
  );
  console.log("| form | ms |\n|---|---|");
  for (const [i, [name]] of forms.entries())
    console.log(`| ${name} | ${(times[i] as number).toFixed(3)} |`);
  // A block's c_fc after pruning (768 × 2152): the int4 blocks' own kernel.
  const width = 2152;
  const blockForms: [string, Uint8Array][] = [
    [
      "MatMulNBits bits 4, accuracy_level 4, symmetric (the int4 blocks)",
      nbitsModel(k, width, 4, 4, false),
    ],
    ["MatMulNBits bits 4, accuracy_level 4, zero points", nbitsModel(k, width, 4, 4)],
    ["MatMulNBits bits 8, accuracy_level 4, symmetric", nbitsModel(k, width, 8, 4, false)],
  ];
  const blockTimes = await productTimes(k, blockForms);
  console.log(`\n### one pruned c_fc (1 × ${k} · ${k} × ${width})\n`);
  console.log("| form | ms |\n|---|---|");
  for (const [i, [name]] of blockForms.entries())
    console.log(`| ${name} | ${(blockTimes[i] as number).toFixed(3)} |`);
}
