import { type Builder, DataType, Tensor, type Value } from "@lathe/core";
import type { ParameterSpec } from "./vae-state-dict.js";

/** Parameters the exporter keeps as they are; GroupNorm affines and Linear weights get folded. */
const KEPT_ROLES = new Set(["conv.weight", "conv.bias", "linear.bias"]);

/**
 * The initializers of one exported component. Parameters the graph reads as they are keep
 * their state-dict names and order; what torch's constant folding computed from a parameter
 * (an `Unsqueeze`d GroupNorm weight, a transposed Linear weight, a padding list) becomes an
 * initializer `onnx::<Consumer>_<n>` after them, as `_jit_pass_onnx_constant_fold` leaves it.
 */
export class ComponentParameters {
  readonly #b: Builder;
  readonly #specs: Map<string, ParameterSpec>;
  readonly #values: (spec: ParameterSpec) => Float32Array;
  readonly #kept = new Map<string, Value>();
  #folded: number;

  constructor(
    builder: Builder,
    specs: readonly ParameterSpec[],
    values: (spec: ParameterSpec) => Float32Array,
  ) {
    this.#b = builder;
    this.#specs = new Map(specs.map((spec) => [spec.name, spec]));
    this.#values = values;
    for (const spec of specs) {
      if (KEPT_ROLES.has(spec.role))
        this.#kept.set(
          spec.name,
          builder.initializer(floatTensor(spec.shape, values(spec)), spec.name),
        );
    }
    this.#folded = builder.graph.inputs.length + builder.graph.initializers.size;
  }

  /** A parameter the graph reads under its state-dict name (`encoder.conv_in.weight`). */
  kept(name: string): Value {
    const value = this.#kept.get(name);
    if (!value) throw new RangeError(`no kept parameter "${name}" in this component`);
    return value;
  }

  /** The values of any parameter of this component, for folding. */
  values(name: string): { spec: ParameterSpec; data: Float32Array } {
    const spec = this.#specs.get(name);
    if (!spec) throw new RangeError(`no parameter "${name}" in this component`);
    return { spec, data: this.#values(spec) };
  }

  /** A folded constant, named after the op that reads it. */
  folded(consumer: string, tensor: Tensor): Value {
    this.#folded += 1;
    return this.#b.initializer(tensor, `onnx::${consumer}_${this.#folded}`);
  }

  /** `weight.unsqueeze(...)` to `dims` (GroupNorm's affine), folded. */
  foldedReshape(consumer: string, name: string, dims: readonly number[]): Value {
    return this.folded(consumer, floatTensor(dims, this.values(name).data));
  }

  /** `weight.t()` of a Linear [out, in], folded to [in, out]. */
  foldedTranspose(consumer: string, name: string): Value {
    const { spec, data } = this.values(name);
    const [rows = 0, cols = 0] = spec.shape;
    const transposed = new Float32Array(data.length);
    for (let i = 0; i < rows; i++)
      for (let j = 0; j < cols; j++) transposed[j * rows + i] = data[i * cols + j] as number;
    return this.folded(consumer, floatTensor([cols, rows], transposed));
  }

  /** A folded int64 list (the `pads` of `F.pad`). */
  foldedInts(consumer: string, values: readonly number[]): Value {
    return this.folded(
      consumer,
      Tensor.fromArray(DataType.INT64, [values.length], values.map(BigInt)),
    );
  }

  /** A folded float list (the `scales` of `F.interpolate`). */
  foldedFloats(consumer: string, values: readonly number[]): Value {
    return this.folded(consumer, Tensor.fromArray(DataType.FLOAT, [values.length], values));
  }
}

/** A float32 tensor over the array's bytes (no copy). */
export function floatTensor(dims: readonly number[], values: Float32Array): Tensor {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  return Tensor.fromBytes(DataType.FLOAT, dims, bytes);
}
