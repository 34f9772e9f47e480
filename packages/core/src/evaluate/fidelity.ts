import { fidelityOptionsSchema } from "../generated/options.js";
import { DataType } from "../ir/dtype.js";
import type { Tensor } from "../ir/tensor.js";
import { defineMetric } from "../plugin/define.js";
import type { DataRecord, DataSet, MetricContext } from "../plugin/types.js";
import { isLogitsName, openSession } from "../runtime/index.js";
import { artifactComponents } from "./artifact.js";
import {
  cosineSimilarity,
  logitsAgreement,
  maxAbsError,
  psnr,
  relativeL2,
} from "./fidelity-math.js";
import { evaluationInputs } from "./inputs.js";

export interface FidelityOptions {
  /**
   * Input records to compare on (generated, or the first of `data`).
   * @integer
   * @minimum 1
   * @default 4
   */
  samples: number;
  /** A data set from the recipe's data: to compare on (default: generated inputs). */
  data?: string;
}

const FLOATS = new Set([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16]);

/**
 * Compares the outputs of two models on the same input records. Per output: relL2, cosine,
 * maxAbs; for logits (an output named `logits`, last dim the vocabulary) kl, top1, top5; for 4-D
 * float outputs (images, latents) psnr. Keys are `<output>.<value>`; the unprefixed values are
 * the worst over the outputs (largest relL2/maxAbs/kl, smallest cosine/top1/top5/psnr).
 */
export function compareOutputs(
  reference: readonly DataRecord[],
  candidate: readonly DataRecord[],
): Record<string, number> {
  const values: Record<string, number> = {};
  const worst = new Map<string, number>();
  const keep = (key: string, value: number, better: "lower" | "higher") => {
    const current = worst.get(key);
    const isWorse =
      current === undefined ||
      Number.isNaN(value) ||
      (better === "lower" ? value > current : value < current);
    if (isWorse && !Number.isNaN(current ?? 0)) worst.set(key, value);
  };
  const names = Object.keys(reference[0] ?? {}).filter((name) => {
    const tensor = reference[0]![name]!;
    return tensor.dataType !== DataType.STRING && tensor.dataType !== DataType.BOOL;
  });
  for (const name of names) {
    const ref = concat(reference.map((r) => r[name]!));
    const cand = concat(
      candidate.map((r) => {
        const tensor = r[name];
        if (!tensor) throw new Error(`the candidate has no output "${name}"`);
        return tensor;
      }),
    );
    const first = reference[0]![name]!;
    const put = (key: string, value: number, better: "lower" | "higher") => {
      values[`${name}.${key}`] = value;
      keep(key, value, better);
    };
    put("relL2", relativeL2(ref, cand), "lower");
    put("cosine", cosineSimilarity(ref, cand), "higher");
    put("maxAbs", maxAbsError(ref, cand), "lower");
    const vocab = first.dims[first.dims.length - 1] ?? 0;
    if (isLogitsName(name) && FLOATS.has(first.dataType) && vocab > 1) {
      const a = logitsAgreement(ref, cand, vocab, 5);
      put("kl", a.kl, "lower");
      put("top1", a.top1, "higher");
      put("top5", a.topK, "higher");
    }
    if (first.dims.length === 4 && FLOATS.has(first.dataType))
      put("psnr", psnr(ref, cand), "higher");
  }
  return { ...Object.fromEntries(worst), ...values };
}

/** The elements of several same-named outputs (one per record) as one array of numbers. */
function concat(tensors: readonly Tensor[]): Float64Array {
  const total = tensors.reduce((sum, t) => sum + t.elementCount, 0);
  const out = new Float64Array(total);
  let at = 0;
  for (const tensor of tensors) {
    const array = tensor.toArray();
    for (let i = 0; i < array.length; i++) out[at++] = Number(array[i]);
  }
  return out;
}

/** Runs one model file on the records, returning its outputs per record. */
export async function runOnRecords(
  file: string,
  context: Pick<MetricContext, "target" | "seed" | "logger">,
  plan: { samples: number; data?: DataSet; records?: readonly DataRecord[] },
): Promise<{ inputs: DataRecord[]; outputs: DataRecord[] }> {
  const session = await openSession(file, { target: context.target });
  try {
    for (const note of session.notes) context.logger.warn(note);
    const inputs = plan.records
      ? [...plan.records]
      : await evaluationInputs(session.inputs, session.outputs, {
          target: context.target,
          seed: context.seed,
          samples: plan.samples,
          ...(plan.data ? { data: plan.data } : {}),
        });
    const outputs: DataRecord[] = [];
    for (const record of inputs) outputs.push(await session.run(record));
    return { inputs, outputs };
  } finally {
    await session.release();
  }
}

export const fidelityMetric = defineMetric<FidelityOptions>({
  id: "core/fidelity",
  summary:
    "Agreement with the reference on the same inputs: relL2, cosine, maxAbs; kl/top1/top5 for logits; psnr for images.",
  options: fidelityOptionsSchema,
  values: {
    relL2: "lower",
    cosine: "higher",
    maxAbs: "lower",
    kl: "lower",
    top1: "higher",
    top5: "higher",
    psnr: "higher",
  },
  deterministic: true,
  async measure(_candidate, context) {
    const { options } = context;
    const data = options.data === undefined ? undefined : context.data(options.data);
    const references = await artifactComponents(context.referencePath);
    const perComponent = new Map<string, Record<string, number>>();
    for (const [name, file] of await artifactComponents(context.candidatePath)) {
      const referenceFile = references.get(name);
      if (!referenceFile) continue;
      // The reference runs once per evaluation, however many candidates compare with it.
      const reference = await context.shared(
        `core/fidelity:${referenceFile}:${options.samples}:${options.data ?? ""}`,
        () =>
          runOnRecords(referenceFile, context, {
            samples: options.samples,
            ...(data ? { data } : {}),
          }),
      );
      const candidate = await runOnRecords(file, context, {
        samples: options.samples,
        records: reference.inputs,
      });
      perComponent.set(name, compareOutputs(reference.outputs, candidate.outputs));
    }
    if (perComponent.size <= 1) return { ...[...perComponent.values()][0] };
    // Several components: each one's values prefixed, and the worst over all of them unprefixed.
    const merged: Record<string, number> = {};
    for (const [component, values] of perComponent) {
      for (const [key, value] of Object.entries(values)) {
        merged[`${component}.${key}`] = value;
        if (key.includes(".")) continue;
        const better = fidelityMetric.values![key];
        const current = merged[key];
        if (current === undefined || (better === "lower" ? value > current : value < current)) {
          merged[key] = value;
        }
      }
    }
    return merged;
  },
});
