import { DataType } from "../ir/dtype.js";
import type { Graph } from "../ir/graph.js";
import type { Model } from "../ir/model.js";
import { Node } from "../ir/node.js";
import { Tensor } from "../ir/tensor.js";
import { tensorType } from "../ir/types.js";
import type { Value } from "../ir/value.js";
import type { DataRecord, SessionFactory } from "../plugin/types.js";
import { withBatchRuns } from "../runtime/batch-runs.js";

/** XᵀX of one activation over every calibration row, with the row count: H = 2·xtx / rows. */
export interface ActivationGram {
  /** [k, k] in float64, summed over records (each record's product comes from ORT in float32). */
  readonly xtx: Float64Array;
  readonly k: number;
  rows: number;
}

export interface GramSetup {
  readonly sessions: SessionFactory;
  readonly records: AsyncIterable<DataRecord> | Iterable<DataRecord>;
  /** Bytes of Gram products one session run may return (at least one record a run). */
  readonly maxBytesPerRun?: number;
  readonly signal?: AbortSignal;
  readonly onBatch?: (records: number) => void;
}

/**
 * XᵀX of each activation (the inputs of the MatMuls to quantize, flattened to rows of `k`),
 * over the calibration records. The model runs on ORT with a Reshape→Transpose→MatMul added per
 * activation, so the K×K products come back instead of the activations (smaller, and computed
 * by ORT's GEMM); they are summed here in float64.
 */
export async function collectGrams(
  model: Model,
  activations: ReadonlyMap<Value, number>,
  setup: GramSetup,
): Promise<Map<Value, ActivationGram>> {
  const grams = new Map<Value, ActivationGram>();
  let bytesPerRecord = 0;
  for (const [value, k] of activations) {
    grams.set(value, { xtx: new Float64Array(k * k), k, rows: 0 });
    bytesPerRecord += 4 * k * k;
  }
  const batchSize = Math.max(1, Math.floor((setup.maxBytesPerRun ?? 2 ** 29) / bytesPerRecord));
  await withGramOutputs(model.graph, activations, async (outputs) => {
    const names = outputs.flatMap((o) => [o.gram, o.shape]);
    await withBatchRuns(setup.sessions, model, names, async (run) => {
      let batch: DataRecord[] = [];
      const flush = async () => {
        if (batch.length === 0) return;
        const results = await run(batch);
        for (const result of results) {
          for (const o of outputs) {
            const gram = grams.get(o.value) as ActivationGram;
            const product = result[o.gram]?.toArray() as Float32Array | undefined;
            const shape = result[o.shape]?.toArray() as BigInt64Array | undefined;
            if (!product || !shape) throw new Error(`calibration run lacks ${o.gram}`);
            for (let i = 0; i < product.length; i++)
              gram.xtx[i] = (gram.xtx[i] as number) + (product[i] as number);
            gram.rows += Number(shape[0]);
          }
        }
        setup.onBatch?.(batch.length);
        batch = [];
      };
      for await (const record of setup.records) {
        setup.signal?.throwIfAborted();
        batch.push(record);
        if (batch.length >= batchSize) await flush();
      }
      await flush();
    });
  });
  return grams;
}

interface GramOutput {
  readonly value: Value;
  readonly gram: string;
  readonly shape: string;
}

/** Adds the Gram products as graph outputs while `use` runs, then removes them. */
async function withGramOutputs(
  graph: Graph,
  activations: ReadonlyMap<Value, number>,
  use: (outputs: GramOutput[]) => Promise<void>,
): Promise<void> {
  const outputCount = graph.outputs.length;
  const nodes: Node[] = [];
  const initializers: string[] = [];
  const outputs: GramOutput[] = [];
  let i = 0;
  for (const [value, k] of activations) {
    const stem = `lathe_gram_${i++}`;
    const shapeName = `${stem}_rows_shape`;
    graph.addInitializer(Tensor.fromArray(DataType.INT64, [2], [-1n, BigInt(k)]), shapeName);
    initializers.push(shapeName);
    const shapeConst = graph.initializers.get(shapeName) as Value;
    const add = (opType: string, inputs: Value[], attributes: Record<string, unknown> = {}) => {
      const node = new Node({
        opType,
        name: `${stem}_${opType}`,
        inputs,
        outputs: [`${stem}_${opType}_out`],
        attributes,
      });
      graph.append(node);
      nodes.push(node);
      return node.output;
    };
    const flat = add("Reshape", [value, shapeConst]);
    const transposed = add("Transpose", [flat], { perm: [1, 0] });
    const gram = add("MatMul", [transposed, flat]);
    gram.type = tensorType(DataType.FLOAT, [k, k]);
    const shape = add("Shape", [flat]);
    shape.type = tensorType(DataType.INT64, [2]);
    graph.outputs.push(gram, shape);
    outputs.push({ value, gram: gram.name, shape: shape.name });
  }
  try {
    await use(outputs);
  } finally {
    graph.outputs.length = outputCount;
    for (const node of nodes.reverse()) graph.remove(node, { force: true });
    for (const name of initializers) graph.removeInitializer(name);
  }
}
