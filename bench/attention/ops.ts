/**
 * One causal attention op alone, every CPU form side by side in one process (every form once a
 * round, order rotating; medians and the median of each form's per-round ratio to the unfused
 * op, with its 95 % interval): the unfused export (MatMul, scale, Where(tril), Softmax, MatMul),
 * com.microsoft GroupQueryAttention (alone, and with a zero padding bias expanded to [1, 1, S, T]
 * as the pass emits it for models with an attention mask), GroupQueryAttention on query chunks
 * (BENCH_BLOCKS, default 256,512: chunked prefill, each chunk a cached step over the keys before
 * it), MultiHeadAttention (unidirectional) and the standard ONNX Attention (opset 23, is_causal).
 * Every form is checked against the unfused result (max abs ≤ 1e-4) first. GPT-2-small shapes:
 * 12 heads of 64.
 *
 *   node_modules/.bin/tsx --tsconfig bench/attention/tsconfig.json bench/attention/ops.ts [seq] [rounds]
 */
import {
  createBuilder,
  DataType,
  encodeModel,
  type Model,
  SeededRandom,
  Tensor,
} from "@lathe/core";
import * as ort from "onnxruntime-node";
import { sessionOptions } from "./cases.js";
import { formatPaired, median, pairedRatio } from "./paired.js";

const SEQ = Number(process.argv[2] ?? 2048);
const REPEATS = Number(process.argv[3] ?? 21);
const [HEADS, HEAD] = [12, 64];
const HIDDEN = HEADS * HEAD;

function unfused(): Model {
  const b = createBuilder({ opset: 17 });
  const [q, k, v] = ["q", "k", "v"].map((n) => b.input(n, DataType.FLOAT, [1, HEADS, SEQ, HEAD]));
  const tril = new Uint8Array(SEQ * SEQ);
  for (let r = 0; r < SEQ; r++) tril.fill(1, r * SEQ, r * SEQ + r + 1);
  const mask = b.initializer(Tensor.fromBytes(DataType.BOOL, [1, 1, SEQ, SEQ], tril), "tril");
  const scores = b.Div(b.MatMul(q!, b.Transpose(k!, { perm: [0, 1, 3, 2] })), b.scalar(8));
  const probs = b.Softmax(b.Where(mask, scores, b.scalar(-3.4028234663852886e38)), { axis: -1 });
  b.output(b.MatMul(probs, v!), "out", DataType.FLOAT);
  return b.build();
}

function contrib(op: "GroupQueryAttention" | "MultiHeadAttention", padding = false): Model {
  const b = createBuilder({ opset: 17 });
  const [q, k, v] = ["q", "k", "v"].map((n) => b.input(n, DataType.FLOAT, [1, SEQ, HIDDEN]));
  const bias = padding
    ? b.Expand(b.constant(new Array(SEQ).fill(0), [1, 1, 1, SEQ]), b.int64s([1, 1, SEQ, SEQ]))
    : undefined;
  const out =
    op === "GroupQueryAttention"
      ? b.node(
          op,
          [
            q,
            k,
            v,
            undefined,
            undefined,
            b.constant([SEQ - 1], [1], DataType.INT32),
            b.constant([SEQ], [], DataType.INT32),
            undefined,
            undefined,
            undefined,
            bias,
          ],
          { num_heads: HEADS, kv_num_heads: HEADS },
          { domain: "com.microsoft", outputs: 3 },
        ).outputs[0]!
      : b.domain("com.microsoft").MultiHeadAttention(q!, k!, v!, {
          num_heads: HEADS,
          unidirectional: 1,
        });
  b.output(out, "out", DataType.FLOAT);
  return b.build();
}

/**
 * GroupQueryAttention on query chunks of `block` rows (chunked prefill): chunk c runs as a cached
 * step, its own keys new and the keys before it as the past, so each chunk's call reads the keys
 * up to its own end only.
 */
function queryTiled(block: number): Model {
  const b = createBuilder({ opset: 17 });
  const [q, k, v] = ["q", "k", "v"].map((n) => b.input(n, DataType.FLOAT, [1, SEQ, HIDDEN]));
  const bnsh = (x: typeof q) =>
    b.Transpose(b.Reshape(x!, b.int64s([0, 0, HEADS, HEAD])), { perm: [0, 2, 1, 3] });
  const [kHeads, vHeads] = [bnsh(k), bnsh(v)];
  const slice = (x: typeof q, from: number, to: number, axis: number) =>
    b.Slice(x!, b.int64s([from]), b.int64s([to]), b.int64s([axis]));
  const outs = [];
  for (let from = 0; from < SEQ; from += block) {
    const to = Math.min(SEQ, from + block);
    const node = b.node(
      "GroupQueryAttention",
      [
        slice(q, from, to, 1),
        slice(k, from, to, 1),
        slice(v, from, to, 1),
        from ? slice(kHeads, 0, from, 2) : undefined,
        from ? slice(vHeads, 0, from, 2) : undefined,
        b.constant([to - 1], [1], DataType.INT32),
        b.constant([to], [], DataType.INT32),
      ],
      { num_heads: HEADS, kv_num_heads: HEADS },
      { domain: "com.microsoft", outputs: 3 },
    );
    outs.push(node.outputs[0]!);
  }
  b.output(outs.length > 1 ? b.Concat(...outs, { axis: 1 }) : outs[0]!, "out", DataType.FLOAT);
  return b.build();
}

function standard(): Model {
  const b = createBuilder({ opset: 23 });
  const [q, k, v] = ["q", "k", "v"].map((n) => b.input(n, DataType.FLOAT, [1, HEADS, SEQ, HEAD]));
  b.output(b.Attention(q!, k!, v!, { is_causal: 1 }), "out", DataType.FLOAT);
  return b.build();
}

function noise(dims: number[], seed: number): ort.Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  return new ort.Tensor("float32", new SeededRandom(seed).uniforms(n, -0.5, 0.5), dims);
}

const bnsh = {
  q: noise([1, HEADS, SEQ, HEAD], 1),
  k: noise([1, HEADS, SEQ, HEAD], 2),
  v: noise([1, HEADS, SEQ, HEAD], 3),
};
const bsd = Object.fromEntries(
  Object.entries(bnsh).map(([name, t]) => {
    // the same numbers in [1, S, N·H]
    const src = t.data as Float32Array;
    const dst = new Float32Array(src.length);
    for (let n = 0; n < HEADS; n++)
      for (let s = 0; s < SEQ; s++)
        for (let h = 0; h < HEAD; h++)
          dst[s * HIDDEN + n * HEAD + h] = src[(n * SEQ + s) * HEAD + h]!;
    return [name, new ort.Tensor("float32", dst, [1, SEQ, HIDDEN])];
  }),
);

const variants: Record<
  string,
  { model: () => Model; feeds: Record<string, ort.Tensor>; bsd: boolean }
> = {
  unfused: { model: unfused, feeds: bnsh, bsd: false },
  GroupQueryAttention: { model: () => contrib("GroupQueryAttention"), feeds: bsd, bsd: true },
  "GroupQueryAttention + padding bias": {
    model: () => contrib("GroupQueryAttention", true),
    feeds: bsd,
    bsd: true,
  },
  ...Object.fromEntries(
    (process.env.BENCH_BLOCKS ?? "256,512")
      .split(",")
      .map((block) => [
        `GroupQueryAttention, query chunks of ${block}`,
        { model: () => queryTiled(Number(block)), feeds: bsd, bsd: true },
      ]),
  ),
  "MultiHeadAttention unidirectional": {
    model: () => contrib("MultiHeadAttention"),
    feeds: bsd,
    bsd: true,
  },
  "ONNX Attention is_causal": { model: standard, feeds: bnsh, bsd: false },
};
const options = sessionOptions();
const sessions: Record<string, ort.InferenceSession> = {};
const reference: Record<string, Float32Array> = {};
for (const [name, v] of Object.entries(variants)) {
  try {
    sessions[name] = await ort.InferenceSession.create(encodeModel(v.model()), options);
    const out = (await sessions[name].run(v.feeds)).out!.data as Float32Array;
    reference[name] = out;
  } catch (e) {
    console.log(`${name}: not runnable: ${(e as Error).message.split("\n")[0]}`);
  }
}
// every variant must compute the unfused result (bsd outputs compared after the layout change)
const base = reference.unfused!;
for (const [name, out] of Object.entries(reference)) {
  let diff = 0;
  for (let n = 0; n < HEADS; n++)
    for (let s = 0; s < SEQ; s++)
      for (let h = 0; h < HEAD; h++) {
        const a = base[(n * SEQ + s) * HEAD + h]!;
        const b = variants[name]!.bsd
          ? out[s * HIDDEN + n * HEAD + h]!
          : out[(n * SEQ + s) * HEAD + h]!;
        diff = Math.max(diff, Math.abs(a - b));
      }
  if (diff > 1e-4) console.log(`${name}: max abs diff ${diff} from unfused: WRONG`);
}
const names = Object.keys(sessions);
const times: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
for (let r = 0; r < REPEATS; r++)
  for (let j = 0; j < names.length; j++) {
    const name = names[(r + j) % names.length]!;
    const start = performance.now();
    await sessions[name]!.run(variants[name]!.feeds);
    times[name]!.push(performance.now() - start);
  }
const unfusedMs = median(times.unfused!);
console.log(
  `\none causal attention op, ${HEADS} heads × ${HEAD}, sequence ${SEQ}, threads ${process.env.BENCH_THREADS ?? "default"}, ${REPEATS} rounds (every form once a round, order rotating)\n`,
);
console.log(
  "| form | median ms | / unfused (medians) | / unfused, per round: median (95 % CI) |\n|---|---|---|---|",
);
for (const name of names)
  console.log(
    `| ${name} | ${median(times[name]!).toFixed(1)} | ${(median(times[name]!) / unfusedMs).toFixed(2)} | ${name === "unfused" ? "1" : formatPaired(pairedRatio(times[name]!, times.unfused!))} |`,
  );
