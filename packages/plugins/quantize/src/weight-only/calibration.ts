import {
  type DataRecord,
  DataType,
  type Dim,
  type Graph,
  type Model,
  Node,
  type PassRandom,
  type SessionFactory,
  Tensor,
  tensorType,
  type Value,
} from "@lathe/core";
import { withBatchRuns } from "../common/batch-runs.js";
import { fedInputs, generateCalibrationTensor } from "../common/calibration-inputs.js";

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
    const stem = `lathe_gptq_${i++}`;
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

/**
 * Token inputs for calibration when the recipe names no data: `sequences` sequences of
 * `length` tokens, packed `perRecord` to a record (the batch dim), with values as
 * `generateCalibrationTensor` makes them (ids uniform over the vocabulary, masks all ones,
 * positions 0…). Symbolic dims are the batch for the first, 0 for caches (`past_*` inputs start
 * empty) and `length` for the others.
 */
export function generateTokenRecords(
  model: Model,
  sequences: number,
  length: number,
  random: PassRandom,
  perRecord = 8,
): DataRecord[] {
  const inputs = fedInputs(model);
  const records: DataRecord[] = [];
  for (let done = 0; done < sequences; done += perRecord) {
    const batch = Math.min(perRecord, sequences - done);
    const record: Record<string, Tensor> = {};
    for (const input of inputs)
      record[input.name] = generateCalibrationTensor(
        input,
        tokenDims(input, batch, length),
        random,
      );
    records.push(record);
  }
  return records;
}

function tokenDims(input: Value, batch: number, length: number): number[] {
  const dims = input.type?.kind === "tensor" ? input.type.shape?.dims : undefined;
  const past = /past/i.test(input.name);
  return (dims ?? [1, length]).map((d: Dim, i) =>
    typeof d === "number" ? d : i === 0 ? batch : past ? 0 : length,
  );
}
