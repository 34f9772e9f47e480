import { type Builder, DataType, Tensor, type Value } from "@lathe/core";

/** What torch writes for an open-ended slice (`x[a:]`). */
export const INT64_MAX = 9223372036854775807n;

type AttributeMap = Record<string, unknown>;

/** A Python int in a shape list, or a traced size. */
export type ShapeItem = Value | number;

/**
 * Emits nodes as torch.onnx.export's TorchScript exporter (torch 2.0, opset 14, constant
 * folding on) writes them for Hugging Face modeling code:
 *
 * - nodes are named `<module path>/<Op>`, `<Op>_1`, … per module, outputs `<node>_output_<i>`;
 * - constants a symbolic creates are `Constant` nodes; what constant folding produced
 *   (transposed Linear weights, `Unsqueeze`d Python ints) are initializers `onnx::<Consumer>_<n>`;
 * - `x.size(d)` is `Shape` → `Gather`, once per tensor and dim, because the exporter runs CSE;
 * - a list of ints (`view(bsz, q_len, 32, 64)`) becomes `Concat` of `Unsqueeze`d scalars;
 * - `expand` keeps the opset-9 symbolic's `-1` handling (ConstantOfShape, Mul, Equal, Where);
 * - casts to the type a value already has, full slices (`x[:, None]`) and unused sizes leave
 *   no node, as in real exports.
 */
export class TorchScriptWriter {
  readonly #b: Builder;
  #scope = "";
  readonly #counters = new Map<string, number>();
  readonly #sizes = new Map<Value, Map<number, Value>>();
  #folded = 0;

  constructor(builder: Builder) {
    this.#b = builder;
  }

  /** Runs `body` with nodes named under a module path such as `/model/layers.0/self_attn`. */
  in<T>(scope: string, body: () => T): T {
    const saved = this.#scope;
    this.#scope = scope;
    try {
      return body();
    } finally {
      this.#scope = saved;
    }
  }

  op(opType: string, inputs: readonly Value[], attributes: AttributeMap = {}): Value {
    const name = this.#nodeName(opType);
    return this.#b.op(opType, inputs, attributes, { name, outputs: [`${name}_output_0`] });
  }

  /** A `Constant` node: what a symbolic writes for a literal. */
  constant(tensor: Tensor): Value {
    return this.op("Constant", [], { value: tensor });
  }

  /** A 0-d float `Constant` (a Python float in an arithmetic op). */
  floatScalar(value: number): Value {
    return this.constant(Tensor.fromArray(DataType.FLOAT, [], [value]));
  }

  /** A 0-d int64 `Constant` (a Python int in an arithmetic op, or a Gather index). */
  intScalar(value: number): Value {
    return this.constant(Tensor.fromArray(DataType.INT64, [], [BigInt(value)]));
  }

  /** A 1-d int64 `Constant` (axes, steps, shapes). */
  ints(values: readonly (number | bigint)[]): Value {
    return this.constant(Tensor.fromArray(DataType.INT64, [values.length], values.map(BigInt)));
  }

  /** An initializer that constant folding produced for a node of type `consumer`. */
  folded(tensor: Tensor, consumer: string): Value {
    this.#folded += 1;
    return this.#b.initializer(tensor, `onnx::${consumer}_${this.#folded}`);
  }

  /** A parameter kept under its state-dict name (`model.norm.weight`). */
  parameter(tensor: Tensor): Value {
    return this.#b.initializer(tensor);
  }

  /** `x.size(dim)` (dim already non-negative): a 0-d int64. */
  size(x: Value, dim: number): Value {
    let byDim = this.#sizes.get(x);
    if (byDim === undefined) {
      byDim = new Map();
      this.#sizes.set(x, byDim);
    }
    const known = byDim.get(dim);
    if (known !== undefined) return known;
    const shape = this.op("Shape", [x]);
    const size = this.op("Gather", [shape, this.intScalar(dim)], { axis: 0 });
    byDim.set(dim, size);
    return size;
  }

  unsqueeze(x: Value, axis: number): Value {
    return this.op("Unsqueeze", [x, this.ints([axis])]);
  }

  /** A list of ints as a 1-d tensor: `Concat` of each item unsqueezed (folded for Python ints). */
  intList(items: readonly ShapeItem[]): Value {
    const parts = items.map((item) =>
      typeof item === "number"
        ? this.folded(Tensor.fromArray(DataType.INT64, [1], [BigInt(item)]), "Concat")
        : this.unsqueeze(item, 0),
    );
    return this.op("Concat", parts, { axis: 0 });
  }

  reshape(x: Value, shape: Value): Value {
    return this.op("Reshape", [x, shape], { allowzero: 0 });
  }

  /** `x.view(*items)` / `x.reshape(*items)`. */
  view(x: Value, items: readonly ShapeItem[]): Value {
    return this.reshape(x, this.intList(items));
  }

  /** `x.expand(*items)` through the opset-9 symbolic, which maps -1 entries to 1. */
  expand(x: Value, items: readonly ShapeItem[]): Value {
    const size = this.reshape(this.intList(items), this.ints([-1]));
    const ones = this.op("ConstantOfShape", [this.op("Shape", [size])], {
      value: Tensor.fromArray(DataType.INT64, [1], [1n]),
    });
    const minusOnes = this.op("Mul", [ones, this.intScalar(-1)]);
    const target = this.op("Where", [this.op("Equal", [size, minusOnes]), ones, size]);
    return this.op("Expand", [x, target]);
  }

  /**
   * `x[start:end]` on one axis where a bound is traced: traced bounds are unsqueezed, Python
   * ones folded, and the step is a `Constant`.
   */
  slice(x: Value, axis: number, start: ShapeItem | bigint, end: ShapeItem | bigint): Value {
    const bound = (item: ShapeItem | bigint) =>
      typeof item === "number" || typeof item === "bigint"
        ? this.folded(Tensor.fromArray(DataType.INT64, [1], [BigInt(item)]), "Slice")
        : this.unsqueeze(item, 0);
    const starts = bound(start);
    const ends = bound(end);
    const axes = bound(axis);
    return this.op("Slice", [x, starts, ends, axes, this.ints([1])]);
  }

  transpose(x: Value, perm: readonly number[]): Value {
    return this.op("Transpose", [x], { perm });
  }

  #nodeName(opType: string): string {
    const stem = `${this.#scope}/${opType}`;
    const n = this.#counters.get(stem) ?? 0;
    this.#counters.set(stem, n + 1);
    return n === 0 ? stem : `${stem}_${n}`;
  }
}
