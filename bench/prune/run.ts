/**
 * Pruning benchmark, side by side in one run on ONNX Runtime's CPU provider.
 *
 * 1. Zoo gpt2 at GPT-2-small size (124 M parameters, ~500 MB fp32) with outlier channels planted
 *    (`outliers`: large LayerNorm gains on a few hidden channels in every block, like trained
 *    LLMs' activation outliers). Every case of `CASES` prunes the same model; calibration is
 *    `BENCH_CALIBRATION` token sequences, evaluation other held-out sequences (seeded):
 *    - logits KL(fp32 ‖ pruned), mean over positions;
 *    - each pass's time and peak RSS (VmHWM, reset before each pass);
 *    - floors: unstructured 50 % wanda and sparsegpt at least 30 % lower KL than magnitude,
 *      sparsegpt ≤ wanda; 2:4 reported per criterion.
 * 2. The byte-level GPT-2 trained on real text (test/lm, trained on first use): held-out bits
 *    per byte, fp32 and after unstructured 50 % with each criterion (calibrated on its
 *    calibration text).
 *
 * Prints a table with PASS/FAIL against the floors; exits 1 when one fails. To add a case, add a
 * row to `CASES` (a pass, its options, and optionally a floor against earlier rows).
 *
 *   pnpm bench:prune   # BENCH_GPT2 (small|tiny), BENCH_OUTLIERS (6), BENCH_CALIBRATION (32),
 *                      # BENCH_EVALUATION (8), BENCH_CASES (regular expression on case names),
 *                      # BENCH_LM=0: skip the trained model, BENCH_ZOO=0: only the trained model
 */
import { readFileSync, writeFileSync } from "node:fs";
import {
  createCpuSessions,
  type DataRecord,
  decodeModel,
  encodeModel,
  type Model,
  type PassDefinition,
  runPassStandalone,
  singleModelBundle,
} from "@lathe/core";
import { gpt2 } from "@lathe/plugin-zoo";
import type { NmOptions, UnstructuredOptions } from "../../packages/plugins/prune/src/index.js";
import { nmPass, unstructuredPass } from "../../packages/plugins/prune/src/index.js";
import { bitsPerByte, loadTrainedLm, textRecords, trainedLmUnavailable } from "../../test/lm/lm.js";
import { tokenRecordSets } from "./shared.js";

const PRESET = process.env.BENCH_GPT2 ?? "small";
const OUTLIERS = Number(process.env.BENCH_OUTLIERS ?? 6);
const CALIBRATION = Number(process.env.BENCH_CALIBRATION ?? 32);
const EVALUATION = Number(process.env.BENCH_EVALUATION ?? 8);
const SEQUENCE = 128;
const ONLY = new RegExp(process.env.BENCH_CASES ?? "");
const WITH_LM = (process.env.BENCH_LM ?? "1") !== "0";
const WITH_ZOO = (process.env.BENCH_ZOO ?? "1") !== "0";

const log = (m: string) => process.stderr.write(`${m}\n`);

interface Case {
  readonly name: string;
  // biome-ignore lint/suspicious/noExplicitAny: a table of passes with their own option types
  readonly pass: PassDefinition<any>;
  readonly options: Partial<UnstructuredOptions> | Partial<NmOptions>;
  /** A floor on this case's KL given the KL of the cases before it: [description, holds]. */
  readonly floor?: (kl: ReadonlyMap<string, number>, mine: number) => [string, boolean];
}

const calibrated = { data: "calibration", samples: CALIBRATION };

/** The cases, in order; a floor may read the KL of any case above it. */
const CASES: Case[] = [
  { name: "unstructured 50 % magnitude", pass: unstructuredPass, options: { sparsity: 0.5 } },
  {
    name: "unstructured 50 % wanda",
    pass: unstructuredPass,
    options: { sparsity: 0.5, criterion: "wanda", ...calibrated },
    floor: (kl, mine) => {
      const magnitude = kl.get("unstructured 50 % magnitude") as number;
      return ["≤ 0.7 × magnitude", mine <= 0.7 * magnitude];
    },
  },
  {
    name: "unstructured 50 % sparsegpt",
    pass: unstructuredPass,
    options: { sparsity: 0.5, criterion: "sparsegpt", ...calibrated },
    floor: (kl, mine) => {
      const magnitude = kl.get("unstructured 50 % magnitude") as number;
      const wanda = kl.get("unstructured 50 % wanda") as number;
      return ["≤ 0.7 × magnitude, ≤ wanda", mine <= 0.7 * magnitude && mine <= wanda];
    },
  },
  { name: "2:4 magnitude", pass: nmPass, options: {} },
  { name: "2:4 wanda", pass: nmPass, options: { criterion: "wanda", ...calibrated } },
  { name: "2:4 sparsegpt", pass: nmPass, options: { criterion: "sparsegpt", ...calibrated } },
];

function rssMb(field: "VmHWM" | "VmRSS"): number {
  const status = readFileSync("/proc/self/status", "utf8");
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
}

/**
 * Runs one pass on a fresh copy of `bytes`; the pass's wall time, its CPU time (every thread of
 * the process, ORT's included: on a shared machine the wall time says more about the others)
 * and the process's peak RSS.
 */
async function prune(
  bytes: Uint8Array,
  c: Pick<Case, "pass" | "options">,
  calibration: DataRecord[],
): Promise<{
  model: Model;
  seconds: number;
  cpuSeconds: number;
  peakMb: number;
  sparsity: number;
}> {
  const bundle = singleModelBundle(decodeModel(bytes));
  global.gc?.();
  writeFileSync("/proc/self/clear_refs", "5"); // resets VmHWM to the current RSS
  const start = performance.now();
  const cpu = process.cpuUsage();
  const { result } = await runPassStandalone(c.pass, bundle, {
    options: { minElements: 1024, ...c.options },
    data: { calibration },
    logger: { debug() {}, info() {}, warn: log },
  });
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  return {
    model: result.bundle.components.get("model") as Model,
    seconds,
    cpuSeconds: (used.user + used.system) / 1e6,
    peakMb: rssMb("VmHWM"),
    sparsity: Number(result.statistics?.sparsity ?? 0),
  };
}

/** The logits of every record, on one CPU session. */
async function logitsOf(model: Model, records: DataRecord[]): Promise<Float32Array[]> {
  const session = await createCpuSessions().open!(model);
  try {
    const out: Float32Array[] = [];
    for (const r of records)
      out.push((await session.run(r, ["logits"])).logits?.toArray() as Float32Array);
    return out;
  } finally {
    await session.release();
  }
}

/** KL(reference ‖ candidate) of the softmaxed logits, mean over positions. */
function klDivergence(reference: Float32Array[], candidate: Float32Array[], vocab: number): number {
  let total = 0;
  let positions = 0;
  reference.forEach((ref, r) => {
    const cand = candidate[r] as Float32Array;
    for (let at = 0; at < ref.length; at += vocab) {
      const p = ref.subarray(at, at + vocab);
      const q = cand.subarray(at, at + vocab);
      const lz = (x: Float32Array) => {
        let max = Number.NEGATIVE_INFINITY;
        for (const v of x) max = Math.max(max, v);
        let sum = 0;
        for (const v of x) sum += Math.exp(v - max);
        return max + Math.log(sum);
      };
      const lzp = lz(p);
      const lzq = lz(q);
      let kl = 0;
      for (let i = 0; i < vocab; i++) {
        const lp = (p[i] as number) - lzp;
        kl += Math.exp(lp) * (lp - ((q[i] as number) - lzq));
      }
      total += kl;
      positions++;
    }
  });
  return total / positions;
}

const fmt = (x: number, digits = 3) =>
  Math.abs(x) < 1e-3 ? x.toExponential(2) : x.toFixed(digits);

async function zooRows(): Promise<boolean> {
  const preset = gpt2.presets[PRESET];
  if (!preset) throw new Error(`zoo gpt2 has no preset "${PRESET}"`);
  const config = { ...preset, outliers: OUTLIERS };
  const bundle = gpt2.build(config, { seed: 1 });
  const model = bundle.components.get("model") as Model;
  const bytes = encodeModel(model);
  const vocab = config.vocab;
  log(
    `zoo gpt2 ${PRESET} (${(bytes.length / 2 ** 20).toFixed(0)} MB), ${OUTLIERS} outlier channels`,
  );
  const { calibration, evaluation } = tokenRecordSets(
    model,
    { calibration: CALIBRATION, evaluation: EVALUATION },
    SEQUENCE,
  );
  const reference = await logitsOf(model, evaluation);

  const kl = new Map<string, number>();
  const rows: string[] = [];
  let ok = true;
  for (const c of CASES) {
    if (!ONLY.test(c.name)) continue;
    log(`${c.name} …`);
    const run = await prune(bytes, c, calibration);
    const mine = klDivergence(reference, await logitsOf(run.model, evaluation), vocab);
    kl.set(c.name, mine);
    const floor = c.floor && [...kl.keys()].length > 1 ? safeFloor(c, kl, mine) : undefined;
    if (floor && !floor[1]) ok = false;
    const verdict = floor ? `${floor[0]}: ${floor[1] ? "PASS" : "FAIL"}` : "reported";
    rows.push(
      `| ${c.name} | ${fmt(run.sparsity)} | ${fmt(mine, 4)} | ${run.seconds.toFixed(1)} | ${run.cpuSeconds.toFixed(1)} | ${run.peakMb.toFixed(0)} | ${verdict} |`,
    );
    log(rows.at(-1) as string);
  }
  console.log(
    `\nzoo gpt2 ${PRESET}, ${OUTLIERS} outlier channels; ${CALIBRATION} calibration and ${EVALUATION} evaluation sequences of ${SEQUENCE} tokens\n`,
  );
  console.log(
    "| case | sparsity | logits KL vs fp32 | pass time s | pass CPU s | peak RSS MB | floor |",
  );
  console.log("|---|---|---|---|---|---|---|");
  for (const row of rows) console.log(row);
  return ok;
}

/** A floor that reads a case left out by BENCH_CASES is not judged. */
function safeFloor(c: Case, kl: ReadonlyMap<string, number>, mine: number) {
  const result = c.floor?.(kl, mine);
  return result && Number.isFinite(mine) && !Number.isNaN(Number(result[1])) ? result : undefined;
}

async function lmRows(): Promise<void> {
  const why = trainedLmUnavailable();
  if (why) {
    console.log(`\ntrained language model: skipped (${why})`);
    return;
  }
  const lm = loadTrainedLm();
  const bytes = readFileSync(lm.path);
  const calibration = textRecords(lm.calibration);
  const base = await bitsPerByte(decodeModel(bytes), lm.evaluation);
  const rows = [`| fp32 | — | 0 | ${base.toFixed(4)} | — | — |`];
  // SparseGPT's and Wanda's own code prune only the decoder blocks' linears; the LM head (here
  // a MatMul on the constant-folded, untied copy of the embedding) is pruned too unless excluded.
  const scopes = [
    ["every MatMul/Gemm", []],
    ["blocks only (lm_head excluded)", ["lm_head"]],
  ] as const;
  for (const [scope, exclude] of scopes) {
    for (const criterion of ["magnitude", "wanda", "sparsegpt"] as const) {
      const run = await prune(
        bytes,
        {
          pass: unstructuredPass,
          options: {
            sparsity: 0.5,
            criterion,
            exclude: [...exclude],
            data: "calibration",
            samples: calibration.length,
          },
        },
        calibration,
      );
      const bpb = await bitsPerByte(run.model, lm.evaluation);
      rows.push(
        `| unstructured 50 % ${criterion} | ${scope} | ${fmt(run.sparsity)} | ${bpb.toFixed(4)} | +${((bpb / base - 1) * 100).toFixed(1)} % | ${run.seconds.toFixed(1)} |`,
      );
      log(rows.at(-1) as string);
    }
  }
  const { config, steps, files } = lm.manifest;
  console.log(
    `\ntrained byte-level GPT-2 (test/lm: ${config.layers} layers, hidden ${config.hidden}, ${steps} steps on ${files.train?.join(", ")}); held-out text ${files.evaluation?.join(", ")} (${lm.evaluation.length} bytes), calibration ${files.calibration?.join(", ")} (${calibration.length} windows)\n`,
  );
  console.log(
    "| model | layers pruned | sparsity of those | held-out bits per byte | vs fp32 | pass time s |",
  );
  console.log("|---|---|---|---|---|---|");
  for (const row of rows) console.log(row);
}

const ok = WITH_ZOO ? await zooRows() : true;
if (WITH_LM) await lmRows();
if (!ok) process.exitCode = 1;
