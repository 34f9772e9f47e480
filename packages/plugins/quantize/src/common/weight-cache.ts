import { addConstant, DataType, type Graph, type NameScope, Tensor, type Value } from "@lathe/core";
import {
  onnxType,
  type QuantizedWeight,
  quantizeWeight,
  type WeightQuantOptions,
} from "./quant-math.js";

/** A quantized weight added to the graph: its integer values, scales and zero points. */
export interface StoredWeight {
  readonly quantized: QuantizedWeight;
  readonly values: Value;
  readonly scale: Value;
  readonly zeroPoint: Value;
}

/**
 * Quantizes each (weight, layout) once: a weight read by several nodes (shared projections,
 * a tied embedding and LM head) is stored once per layout it is read in.
 */
export class WeightCache {
  readonly #entries = new Map<Value, Map<string, StoredWeight>>();

  constructor(
    private readonly graph: Graph,
    private readonly namer: NameScope,
  ) {}

  get(source: Value, layout: string): StoredWeight | undefined {
    return this.#entries.get(source)?.get(layout);
  }

  /**
   * The stored form of `source` in `layout`; `prepare` gives the float data and dims in that
   * layout and is called only the first time.
   */
  getOrAdd(
    source: Value,
    layout: string,
    options: WeightQuantOptions,
    prepare: () => { data: Float32Array; dims: readonly number[] },
  ): StoredWeight {
    const found = this.get(source, layout);
    if (found) return found;
    const { data, dims } = prepare();
    const quantized = quantizeWeight(data, dims, options);
    const type = onnxType(options.kind);
    const stem = source.name || "weight";
    const paramDims = options.axis === undefined ? [] : [quantized.scales.length];
    const stored: StoredWeight = {
      quantized,
      values: addConstant(
        this.graph,
        this.namer,
        `${stem}_quantized`,
        Tensor.fromBytes(type, dims, bytesOf(quantized.values)),
      ),
      scale: addConstant(
        this.graph,
        this.namer,
        `${stem}_scale`,
        Tensor.fromArray(DataType.FLOAT, paramDims, quantized.scales),
      ),
      zeroPoint: addConstant(
        this.graph,
        this.namer,
        `${stem}_zero_point`,
        Tensor.fromBytes(type, paramDims, bytesOf(quantized.zeroPoints)),
      ),
    };
    const layouts = this.#entries.get(source) ?? new Map<string, StoredWeight>();
    this.#entries.set(source, layouts);
    layouts.set(layout, stored);
    return stored;
  }
}

export function bytesOf(a: Int8Array | Uint8Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
